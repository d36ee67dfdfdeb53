/**
 * Bridged vifs on this host: before QEMU starts, xl creates each tap (Xen's `vif<domid>.<n>`
 * unless the vif names one), records it in the domain's record at once (so the store removes
 * exactly these when the domain goes, whichever way) and brings it online: joined to the
 * bridge, or through the vif's hotplug script. After a switch-over the guest is announced.
 */
import { existsSync } from 'node:fs';
import type { QmpClient } from '@xlkit/qmp';
import type { DomainConfig } from '../config/domain-config.js';
import { tapName } from '../config/vif-spec.js';
import { XlError } from '../errors.js';
import { bringTapOnline, createTap, isBridge, type CreatedTap } from '../host/net-devices.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';

/** Why this host cannot give `config` its bridged vifs (missing bridges, scripts), one line each. */
export function vifProblems(
  config: DomainConfig,
  host: { bridge: (name: string) => boolean; file: (path: string) => boolean } = {
    bridge: isBridge,
    file: existsSync,
  },
): string[] {
  const problems: string[] = [];
  for (const vif of config.vifs) {
    if (vif.type !== 'tap') continue;
    if (vif.script !== undefined) {
      if (!host.file(vif.script)) problems.push(`vif script ${vif.script} does not exist on this host`);
    } else if (vif.bridge !== undefined && !host.bridge(vif.bridge)) {
      problems.push(`bridge '${vif.bridge}' does not exist on this host`);
    }
  }
  return [...new Set(problems)];
}

/**
 * Creates, records and brings online the taps of the domain's bridged vifs. On failure the
 * taps already made stay recorded: removing the domain (start's rollback) removes them.
 */
export async function setUpTaps(store: DomainStore, record: DomainRecord): Promise<DomainRecord> {
  const wanted = record.config.vifs.flatMap((vif, i) => (vif.type === 'tap' ? [{ vif, i }] : []));
  if (wanted.length === 0) return record;
  const problems = vifProblems(record.config);
  if (problems.length > 0)
    throw new XlError('XL_NETWORK', `cannot start domain '${record.name}': ${problems.join('; ')}`, {
      domain: record.name,
    });
  let current = record;
  for (const { vif, i } of wanted) {
    const tap: CreatedTap = {
      name: tapName(vif, record.id, i),
      ...(vif.bridge === undefined ? {} : { bridge: vif.bridge }),
      ...(vif.script === undefined ? {} : { script: vif.script }),
      ...(vif.mac === undefined ? {} : { mac: vif.mac }),
    };
    await createTap(tap.name);
    current = await store.update(record.id, (r) => ({ ...r, taps: [...(r.taps ?? []), tap] }));
    await bringTapOnline(tap, { name: record.name, id: record.id });
  }
  return current;
}

/**
 * QEMU's self-announce (RARP, or the guest's gratuitous ARP with virtio-net) so switches learn
 * the guest's new port. Best effort, after the switch-over has happened: a failure leaves the
 * guest running here and is returned for a warning (its own traffic will teach the switches).
 */
export async function announceGuest(qmp: QmpClient, config: DomainConfig): Promise<string | undefined> {
  if (!config.vifs.some((v) => v.type === 'tap')) return undefined;
  try {
    // QEMU 7.2 wants every timing: its defaults (50 ms first, 5 rounds, 100 ms more each time).
    await qmp.execute('announce-self', { initial: 50, max: 550, rounds: 5, step: 100 });
    return undefined;
  } catch (err) {
    return `announcing domain '${config.name}' on its bridges failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}
