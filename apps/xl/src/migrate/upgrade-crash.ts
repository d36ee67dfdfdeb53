/**
 * An upgrade that failed after the new QEMU's vCPUs ran on the RAM both QEMUs map: the
 * source's copy is not the guest any more (its RAM was changed under it, its device state is
 * older), so it is never resumed. The domain is treated as crashed and follows its
 * `on_crash`: `destroy` removes both QEMUs, `restart` removes them and boots the domain afresh
 * from its config, `preserve` stops whatever QEMU still lives and leaves it for inspection.
 */
import { stop } from '@xlkit/qmp';
import { destroyDomain } from '../domain/destroy.js';
import { isQemuAlive } from '../domain/liveness.js';
import { withQmp } from '../domain/qmp.js';
import { startDomain } from '../domain/start.js';
import { errorMessage, XlError } from '../errors.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';

/** What became of the domain, for the message. */
async function followOnCrash(
  store: DomainStore,
  source: DomainRecord,
  copies: DomainRecord[],
): Promise<string> {
  const action = source.config.onCrash;
  if (action === 'preserve') {
    for (const c of copies) {
      if (isQemuAlive(c)) await withQmp(store, c, (q) => stop(q)).catch(() => undefined);
      else await destroyDomain(store, c).catch(() => undefined);
    }
    const kept = (await Promise.all(copies.map((c) => store.get(c.id)))).filter((c) => c !== undefined);
    return `on_crash=preserve: ${kept.length === 0 ? 'nothing was left to keep' : `kept stopped for inspection: ${kept.map((c) => `'${c.name}' (id ${c.id})`).join(', ')}`}`;
  }
  for (const c of copies) await destroyDomain(store, c);
  if (action === 'destroy') return 'on_crash=destroy: it was destroyed';
  const fresh = await startDomain(store, { ...source.config, name: source.name, uuid: source.uuid });
  return `on_crash=restart: it was booted afresh as id ${fresh.id}`;
}

export async function crashAfterRun(
  store: DomainStore,
  source: DomainRecord,
  incoming: DomainRecord | undefined,
  err: unknown,
): Promise<XlError> {
  // Both copies as they are now (either may have been renamed or removed meanwhile).
  const ids = [source.id, ...(incoming ? [incoming.id] : [])];
  const copies = (await Promise.all(ids.map((id) => store.get(id)))).filter(
    (r): r is DomainRecord => r !== undefined,
  );
  let outcome: string;
  try {
    outcome = await followOnCrash(store, source, copies);
  } catch (e) {
    outcome = `following on_crash=${source.config.onCrash} failed too: ${errorMessage(e)}`;
  }
  return new XlError(
    'XL_UPGRADE_CRASHED',
    `UPGRADE FAILED AFTER THE NEW QEMU RAN (${errorMessage(err)}). The domain '${source.name}' crashed: ` +
      `its old QEMU shares the RAM the new one changed and was not resumed; ${outcome}`,
    { cause: err, domain: source.name },
  );
}
