/**
 * Turns the parsed XLKIT_FAULT hooks (faults.ts) into decorations the migration flows accept
 * from outside: a wrapped forward stream, a wrapped QMP client, a wrapped source or
 * destination port, a feature list. The flows never see a fault's name.
 */
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpClient } from '@xlkit/qmp';
import { XlError } from '../errors.js';
import { OWN_FEATURES } from '../link/protocol.js';
import { waitForQemuExit } from '../domain/destroy.js';
import { isQemuAlive } from '../domain/liveness.js';
import type { DestinationPort } from '../migrate/destination-port.js';
import type { ReceiverInstruments } from '../migrate/receive-migration.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { SenderInstruments } from '../migrate/send-migration.js';
import type { RamSent, SourcePort } from '../migrate/source-port.js';
import { CorruptRamChunk } from './corrupt-ram-chunk.js';
import type { Faults } from './faults.js';
import { listenDropProxy, type DropProxy } from './nbd-drop-proxy.js';
import { decorateQmp } from './qmp-decorator.js';
import { dumpGuestRam } from './ram-dump.js';

/** Resolves never; rejects once `signal` aborts (with its reason when that is one of ours). */
function stallUntil(signal: AbortSignal | undefined, what: string): Promise<never> {
  return new Promise<never>((_, reject) => {
    const fail = () =>
      reject(
        signal?.reason instanceof XlError
          ? signal.reason
          : new XlError('XL_INTERRUPTED', `${what} was interrupted`),
      );
    if (signal?.aborted) fail();
    signal?.addEventListener('abort', fail, { once: true });
  });
}

/** upgrade-barrier: this one's file in the barrier dir, then every other's (bounded, 120 s). */
async function meetAt(b: { count: number; dir: string }, name: string, signal: AbortSignal): Promise<void> {
  await writeFile(path.join(b.dir, name), '');
  const deadline = Date.now() + 120_000;
  while ((await readdir(b.dir)).length < b.count) {
    if (signal.aborted || Date.now() > deadline)
      throw new XlError('XL_INTERRUPTED', `upgrade-barrier: the other ${b.count - 1} never arrived`);
    await sleep(50);
  }
}

/** The source's QMP: mirror-speed on every blockdev-mirror, nbd-drop through a cutting proxy. */
function senderQmp(f: Faults): ((qmp: QmpClient) => QmpClient) | undefined {
  const { mirrorSpeed, nbdDropAfter } = f;
  if (mirrorSpeed === undefined && nbdDropAfter === undefined) return undefined;
  const proxies: DropProxy[] = [];
  return (qmp) =>
    decorateQmp(
      qmp,
      async (command, args) => {
        if (command === 'blockdev-mirror' && mirrorSpeed !== undefined)
          return { ...args, speed: mirrorSpeed };
        const server = args?.server as { type?: string; path?: string } | undefined;
        if (
          command === 'blockdev-add' &&
          args?.driver === 'nbd' &&
          nbdDropAfter !== undefined &&
          server?.type === 'unix' &&
          server.path !== undefined
        ) {
          const proxy = await listenDropProxy(server.path, nbdDropAfter);
          proxies.push(proxy);
          return { ...args, server: { type: 'unix', path: proxy.path } };
        }
        return args;
      },
      async () => {
        for (const p of proxies.splice(0)) await p.close();
      },
    );
}

export function senderInstruments(f: Faults): SenderInstruments | undefined {
  const ins: SenderInstruments = {};
  const { corruptRamChunk, senderStall, ramDumpDir, barrier } = f;
  if (corruptRamChunk !== undefined) {
    ins.output = (forward) => {
      const t = new CorruptRamChunk(corruptRamChunk);
      t.pipe(forward);
      return t;
    };
  }
  const qmp = senderQmp(f);
  if (qmp) ins.qmp = qmp;
  if (f.mirrorStallMs !== undefined) ins.mirrorStallWindowMs = f.mirrorStallMs;
  if (senderStall === 'before-go' || ramDumpDir !== undefined || barrier !== undefined) {
    const dumpSource = async (port: SourcePort, ram: RamSent): Promise<RamSent> => {
      const q = port.qmp;
      if (ramDumpDir !== undefined && q !== undefined) await dumpGuestRam(q, ramDumpDir, 'source');
      return ram;
    };
    ins.source = (port, at) => {
      const withSourceDump = (ram: RamSent) => dumpSource(port, ram);
      return {
        ...port,
        get qmp() {
          return port.qmp;
        },
        // After the receiver said ready, before GO: hold still until interrupted.
        async setStatus(status) {
          if (status === 'migrated-away' && senderStall === 'before-go') {
            at.event('stalled-before-go');
            await stallUntil(at.signal, 'the migration');
          }
          if (status === 'migrated-away' && barrier !== undefined) {
            at.event('barrier');
            await meetAt(barrier, port.name, at.signal);
          }
          return port.setStatus(status);
        },
        // QEMU completed (its vCPUs stopped for good), before GO: the source's final RAM.
        sendRam: async (o) => withSourceDump(await port.sendRam(o)),
        sendRamDirect: async (o) => withSourceDump(await port.sendRamDirect(o)),
      };
    };
  }
  return Object.keys(ins).length > 0 ? ins : undefined;
}

export function receiverInstruments(f: Faults): ReceiverInstruments | undefined {
  const ins: ReceiverInstruments = {};
  const { receiverLacks, receiverStall, ramDumpDir } = f;
  if (receiverLacks !== undefined) ins.features = OWN_FEATURES.filter((x) => x !== receiverLacks);
  if (receiverStall !== undefined || ramDumpDir !== undefined) {
    ins.destination = (port, at) => ({
      ...port,
      get record() {
        return port.record;
      },
      get qmp() {
        return port.qmp;
      },
      async start(config, info, o) {
        // receiver-stall:targets: after the disk targets exist, before QEMU starts.
        const prepare = o.prepare;
        const stalled =
          receiverStall === 'targets' && prepare
            ? { ...o, prepare: async () => (await prepare(), await stallUntil(at.signal, 'migrate-receive')) }
            : o;
        const record = await port.start(config, info, stalled);
        // receiver-stall:phase1: QEMU up, before PHASE_READY 1.
        if (receiverStall === 'phase1') await stallUntil(at.signal, 'migrate-receive');
        return record;
      },
      async takeOver(name, paused) {
        // receiver-stall:postcopy: the take-over at POSTCOPY_GO (the record still NAME--incoming).
        if (receiverStall === 'postcopy' && port.record?.postcopy === true)
          await stallUntil(at.signal, 'migrate-receive');
        // After GO, before the guest resumes: the destination's final RAM.
        if (ramDumpDir !== undefined && port.qmp !== undefined)
          await dumpGuestRam(port.qmp, ramDumpDir, 'destination');
        return port.takeOver(name, paused);
      },
    });
  }
  return Object.keys(ins).length > 0 ? ins : undefined;
}

/** SIGKILL for a domain's QEMU, waited for (the fault must have happened when the flow goes on). */
async function killNow(record: DomainRecord | undefined): Promise<void> {
  if (record?.qemu === undefined || !isQemuAlive(record)) return;
  process.kill(record.qemu.pid, 'SIGKILL');
  await waitForQemuExit(record);
}

/** `xl upgrade`'s destination: upgrade-kill at a known point, ram-dump before the guest runs there. */
export function upgradeDestination(f: Faults): ((port: DestinationPort) => DestinationPort) | undefined {
  const { upgradeKill, ramDumpDir } = f;
  if (upgradeKill === undefined && ramDumpDir === undefined) return undefined;
  return (port) => ({
    ...port,
    get record() {
      return port.record;
    },
    get qmp() {
      return port.qmp;
    },
    async start(config, info, o) {
      const record = await port.start(config, info, o);
      if (upgradeKill === 'started') await killNow(record);
      return record;
    },
    async takeOver(name, paused) {
      if (ramDumpDir !== undefined && port.qmp !== undefined)
        await dumpGuestRam(port.qmp, ramDumpDir, 'destination');
      await port.takeOver(name, paused);
      if (upgradeKill === 'ran') await killNow(port.record);
    },
  });
}
