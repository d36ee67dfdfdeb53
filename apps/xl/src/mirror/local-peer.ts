/**
 * Is the sender of a disk plan this very host? Same kernel (boot id), same network namespace,
 * and the same view of the files (a source image the plan names has the same st_dev/st_ino
 * here). Then the direct transport serves NBD on a unix socket in the domain's directory
 * instead of TCP loopback: same-host migrations (live QEMU upgrades) skip the TCP stack, which
 * costs QEMU's NBD about a third of its mirror throughput here. Hosts in other network
 * namespaces or mount views keep TCP, as between machines.
 */
import { readlink, stat } from 'node:fs/promises';
import type { DiskPlan } from '@xlkit/stream';

export const NETNS_LINK = '/proc/self/ns/net';

/** This process's network namespace, e.g. "net:[4026531840]" ('unknown' if unreadable). */
export async function readNetNamespace(link = NETNS_LINK): Promise<string> {
  return readlink(link).catch(() => 'unknown');
}

export async function senderIsLocal(plan: DiskPlan, hostId: string, netns: string): Promise<boolean> {
  if (hostId === 'unknown' || netns === 'unknown') return false;
  if (plan.hostId !== hostId || plan.netns !== netns) return false;
  for (const d of plan.disks) {
    const st = await stat(d.path).catch(() => undefined);
    if (st !== undefined && st.dev === d.dev && st.ino === d.ino) return true;
  }
  return false;
}
