/**
 * Is the sender of a disk plan this very host, able to open a unix socket in our state
 * directory? Same kernel (boot id), same network and mount namespaces, a user that can
 * enter our directories (the same euid, or root), and the same view of the files (a source
 * image the plan names has the same st_dev/st_ino here). Then the direct transport serves
 * NBD on a unix socket in the domain's directory instead of TCP loopback: same-host
 * migrations (live QEMU upgrades) skip the TCP stack, which costs QEMU's NBD about a third
 * of its mirror throughput here. Anything else (another host, a container, another user)
 * keeps TCP, as between machines.
 */
import { lstat, readlink, stat } from 'node:fs/promises';
import type { DiskExports, DiskPlan } from '@xlkit/stream';
import { MirrorError } from './mirror-error.js';

export interface LocalIdentity {
  netns: string;
  mntns: string;
  uid: number;
}

async function namespace(kind: 'net' | 'mnt', root: string): Promise<string> {
  return readlink(`${root}/${kind}`).catch(() => 'unknown');
}

/** This process's namespaces and effective uid ('unknown' where /proc cannot tell). */
export async function readLocalIdentity(nsRoot = '/proc/self/ns'): Promise<LocalIdentity> {
  return {
    netns: await namespace('net', nsRoot),
    mntns: await namespace('mnt', nsRoot),
    uid: process.geteuid?.() ?? -1,
  };
}

export async function senderIsLocal(plan: DiskPlan, hostId: string, me: LocalIdentity): Promise<boolean> {
  if (hostId === 'unknown' || me.netns === 'unknown' || me.mntns === 'unknown') return false;
  if (plan.hostId !== hostId || plan.netns !== me.netns || plan.mntns !== me.mntns) return false;
  if (plan.uid === undefined || (plan.uid !== 0 && plan.uid !== me.uid)) return false;
  for (const d of plan.disks) {
    const st = await stat(d.path).catch(() => undefined);
    if (st !== undefined && st.dev === d.dev && st.ino === d.ino) return true;
  }
  return false;
}

/**
 * The sender's check of a unix socket the receiver named in DISK_EXPORTS: a socket, here,
 * that this user may connect to. Otherwise the receiver is not this host (or lies), and the
 * mirror must not be pointed at whatever else might listen at that path.
 */
export async function checkExportSocket(
  exports: DiskExports,
  uid = process.geteuid?.() ?? -1,
): Promise<void> {
  const socket = exports.socket;
  if (socket === undefined) return;
  const st = await lstat(socket).catch(() => undefined);
  if (st === undefined || !st.isSocket()) {
    throw new MirrorError(
      'mirror',
      `the receiver offered NBD on the unix socket ${socket}, which is not a socket on this host`,
    );
  }
  if (uid !== 0 && st.uid !== uid) {
    throw new MirrorError(
      'mirror',
      `the receiver's NBD socket ${socket} belongs to uid ${st.uid}, not to this user (${uid})`,
    );
  }
}
