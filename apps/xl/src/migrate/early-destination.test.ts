import { describe, expect, it } from 'vitest';
import { MigrationKey, type DomainInfo } from '@xlkit/stream';
import type { DomainRecord } from '../store/domain-record.js';
import { testDomainConfig } from '../testing/domain-config.js';
import type { DestinationPort, DirectListenOptions } from './destination-port.js';
import { startsEarly } from './early-destination.js';

const CONFIG = testDomainConfig('web', { uuid: '6f1c3a52-8e5d-4c1b-9a0e-2b7d5f3e9c41' });
const INFO: DomainInfo = {
  qemuVersion: '7.2.0',
  machine: 'pc-i440fx-7.2',
  accel: 'tcg',
  memoryMiB: 64,
  vcpus: 1,
  disks: [{ id: 'xvda', format: 'raw', virtualSize: 1 << 20, allocation: 4096 }],
};
const LISTEN: DirectListenOptions = { sameHost: true, host: '127.0.0.1', postcopy: false };

/** A destination that records its calls; `start` waits for `release()` and may fail. */
function recordingPort(o: { failAt?: 'refuse' | 'start' } = {}) {
  const calls: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let record: DomainRecord | undefined;
  const port = {
    get record() {
      return record;
    },
    qmp: undefined,
    async refuse() {
      calls.push('refuse');
      if (o.failAt === 'refuse') throw new Error('refused');
    },
    async hostCheck() {
      calls.push('hostCheck');
    },
    async start(config, _info, s) {
      calls.push('start');
      s.onSpawn?.();
      await gate;
      if (o.failAt === 'start') throw new Error('QEMU failed to start');
      record = { id: 9, name: `${config.name}--incoming` } as DomainRecord;
      return record;
    },
    async listenRam() {
      calls.push('listenRam');
      return {
        endpoint: { transport: 'unix' as const, path: '/nowhere/migrate.sock' },
        completed: Promise.resolve({ status: 'completed' }),
      };
    },
    async destroy() {
      calls.push(`destroy ${record?.id ?? 'nothing'}`);
      return true;
    },
    async close() {
      calls.push('close');
    },
  } as Partial<DestinationPort> as DestinationPort;
  return { port, calls, release };
}

describe('startsEarly', () => {
  it("runs the receiver's steps in its order at once; the receiver's calls get their results", async () => {
    const { port, calls, release } = recordingPort();
    const early = startsEarly(port, LISTEN);
    early.begin(CONFIG, INFO);
    await early.spawned;
    expect(calls).toEqual(['refuse', 'hostCheck', 'start']);
    release();
    // The receiver's calls, with the config and info as they came through the pipe (a disk's
    // allocation may have grown since) and its key, which a unix listener does not use.
    await early.refuse(structuredClone(CONFIG));
    const grown = { ...INFO, disks: [{ ...INFO.disks[0]!, allocation: 8192 }] };
    await early.hostCheck(grown, CONFIG);
    expect((await early.start(CONFIG, grown, {})).id).toBe(9);
    const listening = await early.listenRam({ ...LISTEN, key: MigrationKey.generate() });
    expect(listening.endpoint).toEqual({ transport: 'unix', path: '/nowhere/migrate.sock' });
    expect(calls).toEqual(['refuse', 'hostCheck', 'start', 'listenRam']);
    expect(early.record?.id).toBe(9);
  });

  it("throws a failed step's error at that step, the ones before it pass; nothing listens", async () => {
    const { port, calls, release } = recordingPort({ failAt: 'start' });
    const early = startsEarly(port, LISTEN);
    early.begin(CONFIG, INFO);
    release();
    await early.refuse(CONFIG);
    await early.hostCheck(INFO, CONFIG);
    await expect(early.start(CONFIG, INFO, {})).rejects.toThrow('QEMU failed to start');
    await expect(early.listenRam(LISTEN)).rejects.toThrow('QEMU failed to start');
    expect(calls).toEqual(['refuse', 'hostCheck', 'start']);
  });

  it('settles `spawned` when a step before the start fails', async () => {
    const { port, calls } = recordingPort({ failAt: 'refuse' });
    const early = startsEarly(port, LISTEN);
    early.begin(CONFIG, INFO);
    await early.spawned;
    await expect(early.refuse(CONFIG)).rejects.toThrow('refused');
    expect(calls).toEqual(['refuse']);
  });

  it('destroys only once a start in flight has settled, so its QEMU cannot outlive the destroy', async () => {
    const { port, calls, release } = recordingPort();
    const early = startsEarly(port, LISTEN);
    early.begin(CONFIG, INFO);
    await early.spawned;
    const destroyed = early.destroy({ always: true });
    await new Promise((r) => setTimeout(r, 20));
    expect(calls).toEqual(['refuse', 'hostCheck', 'start']);
    release();
    expect(await destroyed).toBe(true);
    expect(calls).toEqual(['refuse', 'hostCheck', 'start', 'listenRam', 'destroy 9']);
  });

  it('refuses to hand over what it started for anything else the receiver asks (a bug guard)', async () => {
    const { port, release } = recordingPort();
    const early = startsEarly(port, LISTEN);
    early.begin(CONFIG, INFO);
    release();
    await expect(early.refuse({ ...CONFIG, memory: CONFIG.memory * 2 })).rejects.toThrow(
      /asked for a config other than the new QEMU was started with/,
    );
    await expect(early.start(CONFIG, { ...INFO, memoryMiB: 128 }, {})).rejects.toThrow(
      /a machine, accelerator or RAM size/,
    );
    await expect(early.listenRam({ ...LISTEN, postcopy: true })).rejects.toThrow(/a RAM listener/);
  });

  it('passes every call through when it was never begun', async () => {
    const { port, calls, release } = recordingPort();
    const early = startsEarly(port, LISTEN);
    release();
    await early.refuse(CONFIG);
    await early.start(CONFIG, INFO, {});
    expect(calls).toEqual(['refuse', 'start']);
  });

  it("only listens early on a unix socket (a TCP listener needs the handshake's key)", () => {
    const { port } = recordingPort();
    expect(() => startsEarly(port, { ...LISTEN, sameHost: false })).toThrow(/unix socket/);
  });
});
