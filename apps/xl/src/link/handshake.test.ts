import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { StreamWriter } from '@xlkit/stream';
import { receiverHandshake, senderHandshake } from './handshake.js';
import { BANNER, OWN_FEATURES, makeHello, negotiate, ramRequires } from './protocol.js';

const config = { name: 'dom1', memory: 64 };

/** A sender and a receiver joined by two in-memory pipes. */
function pipes() {
  return { forward: new PassThrough(), back: new PassThrough() };
}

async function both(senderRequires: string[], receiverHello = makeHello([])) {
  const p = pipes();
  const s = senderHandshake({ input: p.back, output: p.forward, config, requires: senderRequires });
  const r = receiverHandshake({ input: p.forward, output: p.back, hello: receiverHello });
  return Promise.allSettled([s, r]);
}

function reason(r: PromiseSettledResult<unknown>): string {
  return r.status === 'rejected' ? String((r.reason as Error).message) : 'fulfilled';
}

describe('migrate handshake', () => {
  test('agrees on version and common features, and hands the config over', async () => {
    const [s, r] = await both(['ram-stream']);
    expect(s.status).toBe('fulfilled');
    expect(r.status).toBe('fulfilled');
    if (s.status !== 'fulfilled' || r.status !== 'fulfilled') return;
    expect(s.value.agreement).toEqual({ version: 1, features: [...OWN_FEATURES] });
    expect(r.value.agreement).toEqual(s.value.agreement);
    expect(r.value.config).toEqual(config);
    expect(s.value.peer.software).toBe('xlkit xl');
  });

  test('a required feature the receiver lacks is refused on both sides, naming it', async () => {
    const [s, r] = await both(['ram-stream', 'teleport']);
    expect(reason(s)).toBe("refusing to migrate: the receiver lacks required feature(s) 'teleport'");
    expect(reason(r)).toBe(
      "refusing the migration: the sender requires feature(s) this xl lacks: 'teleport'",
    );
  });

  test('version ranges that do not overlap are refused', async () => {
    const [s, r] = await both(['ram-stream'], {
      ...makeHello([]),
      minVersion: 2,
      maxVersion: 3,
      software: 'xlkit future',
    });
    expect(reason(s)).toBe(
      'refusing to migrate: protocol version mismatch: this xl speaks version 1, the receiver (xlkit future) speaks versions 2..3',
    );
    expect(reason(r)).toMatch(/^refusing the migration: protocol version mismatch/);
  });

  test('negotiate picks the highest common version', () => {
    const a = { ...makeHello([]), minVersion: 1, maxVersion: 3 };
    const b = { ...makeHello([]), minVersion: 2, maxVersion: 5, features: ['abort', 'x'] };
    expect(negotiate(a, b, 'peer')).toEqual({ ok: true, agreement: { version: 3, features: ['abort'] } });
  });

  test('a guest with a RAM tail requires exact-ram, which a receiver without it lacks: refused before anything moves', () => {
    expect(ramRequires({})).toEqual(['ram-stream']);
    expect(ramRequires({ memoryBytes: 128 * 1048576 + 8192 })).toEqual(['ram-stream', 'exact-ram']);
    const older = makeHello(
      [],
      OWN_FEATURES.filter((f) => f !== 'exact-ram'),
    );
    expect(
      negotiate(makeHello(ramRequires({ memoryBytes: 128 * 1048576 + 8192 })), older, 'receiver'),
    ).toEqual({
      ok: false,
      reason: "the receiver lacks required feature(s) 'exact-ram'",
    });
    expect(negotiate(makeHello(ramRequires({})), older, 'receiver').ok).toBe(true);
  });

  test('a -q tunnel needs tunnel-crc at both ends: an older peer is refused at the handshake', () => {
    const tunnel = ['disk-mirror', 'tunnel', 'tunnel-crc'];
    const withoutCrc = OWN_FEATURES.filter((f) => f !== 'tunnel-crc');
    // A new sender, an older receiver: the sender's requires catch it.
    expect(negotiate(makeHello(tunnel), makeHello([], withoutCrc), 'receiver')).toEqual({
      ok: false,
      reason: "the receiver lacks required feature(s) 'tunnel-crc'",
    });
    // An older sender (requires tunnel, has no crcs), a new receiver: refused there, not mid-mirror.
    const olderSender = makeHello(['disk-mirror', 'tunnel'], withoutCrc);
    expect(negotiate(makeHello([]), olderSender, 'sender')).toEqual({
      ok: false,
      reason: "the sender asks for a tunnel without checksums (it lacks 'tunnel-crc'): upgrade it",
    });
    // Both new: agreed, and the direct transport (no tunnel) still meets an older receiver.
    const agreed = negotiate(makeHello(tunnel), makeHello([]), 'receiver');
    expect(agreed.ok && agreed.agreement.features).toContain('tunnel-crc');
    expect(
      negotiate(makeHello(['disk-mirror', 'direct-tls']), makeHello([], withoutCrc), 'receiver').ok,
    ).toBe(true);
  });

  test('a -q sender meeting a receiver without tunnel-crc stops at the handshake, on both sides', async () => {
    const older = makeHello(
      [],
      OWN_FEATURES.filter((f) => f !== 'tunnel-crc'),
    );
    const [s, r] = await both(['ram-stream', 'disk-mirror', 'tunnel', 'tunnel-crc'], older);
    expect(reason(s)).toBe("refusing to migrate: the receiver lacks required feature(s) 'tunnel-crc'");
    expect(reason(r)).toBe(
      "refusing the migration: the sender requires feature(s) this xl lacks: 'tunnel-crc'",
    );
  });

  test('a wrong banner stops the sender before it writes anything', async () => {
    const p = pipes();
    const written: Buffer[] = [];
    p.forward.on('data', (c: Buffer) => written.push(c));
    p.back.end(Buffer.from('Welcome to some other program, please log in\n'));
    await expect(
      senderHandshake({ input: p.back, output: p.forward, config, requires: [] }),
    ).rejects.toMatchObject({
      code: 'XL_MIGRATION_HANDSHAKE',
      message: `the receiver sent "Welcome to some other program, please lo"... where xl's migration banner was expected`,
    });
    expect(written).toEqual([]);
  });

  test('a receiver that exits before the banner ends is reported as such', async () => {
    const p = pipes();
    p.back.end(BANNER.subarray(0, 10));
    await expect(senderHandshake({ input: p.back, output: p.forward, config, requires: [] })).rejects.toThrow(
      "the receiver closed the connection in the middle of xl's migration banner",
    );
  });

  test('an older receiver (banner, then no stream) is refused explicitly', async () => {
    const p = pipes();
    p.back.end(Buffer.concat([BANNER, Buffer.from('domain received, ready to unpause\0')]));
    await expect(senderHandshake({ input: p.back, output: p.forward, config, requires: [] })).rejects.toThrow(
      /instead of a stream header: it is an older xl without xlkit's migration protocol/,
    );
    const q = pipes();
    q.back.end(BANNER);
    await expect(senderHandshake({ input: q.back, output: q.forward, config, requires: [] })).rejects.toThrow(
      /closed the connection right after the banner/,
    );
  });

  test('a truncated hello from the receiver is a handshake error, not a hang', async () => {
    const q = pipes();
    const bytes: Buffer[] = [];
    const sink = new PassThrough();
    sink.on('data', (c: Buffer) => bytes.push(c));
    const w2 = new StreamWriter(sink);
    await w2.writeStreamHeader();
    await w2.writeRecord('MIGRATION_HELLO', makeHello([]));
    const framed = Buffer.concat(bytes);
    q.back.end(Buffer.concat([BANNER, framed.subarray(0, framed.length - 9)]));
    await expect(senderHandshake({ input: q.back, output: q.forward, config, requires: [] })).rejects.toThrow(
      'the receiver closed the connection before its hello',
    );
  });

  test('a sender that sends no hello (older xl) is refused by the receiver', async () => {
    const p = pipes();
    const w = new StreamWriter(p.forward);
    await w.writeXlHeader(config);
    await w.writeStreamHeader();
    await w.writePhase(1);
    await expect(receiverHandshake({ input: p.forward, output: p.back })).rejects.toThrow(
      "the sender did not negotiate (sent PHASE where its MIGRATION_HELLO belongs): it is an older xl without xlkit's migration protocol; upgrade it",
    );
  });

  test('truncated headers from the sender are reported, and garbage is a stream error', async () => {
    const p = pipes();
    p.forward.end(Buffer.from('Xen saved domain, xl format\n'));
    await expect(receiverHandshake({ input: p.forward, output: p.back })).rejects.toThrow(
      'the sender closed the connection before sending the domain',
    );
    const q = pipes();
    q.forward.end(Buffer.alloc(200, 0x41));
    await expect(receiverHandshake({ input: q.forward, output: q.back })).rejects.toThrow(
      /^bad stream headers from the sender: /,
    );
  });

  test('direct-tls: the receiver makes a key and hands it over right after the hellos', async () => {
    const [s, r] = await both(['ram-stream', 'direct-ram', 'direct-tls']);
    if (s.status !== 'fulfilled' || r.status !== 'fulfilled') throw new Error(`${reason(s)} / ${reason(r)}`);
    expect(r.value.key?.hex()).toMatch(/^[0-9a-f]{64}$/);
    expect(s.value.key?.hex()).toBe(r.value.key?.hex());
    const [s2, r2] = await both(['ram-stream']);
    if (s2.status !== 'fulfilled' || r2.status !== 'fulfilled') throw new Error('no agreement');
    expect(s2.value.key).toBeUndefined();
    expect(r2.value.key).toBeUndefined();
  });

  test('direct-tls: an older receiver is refused at the handshake, before any key or port', async () => {
    const older = makeHello(
      [],
      OWN_FEATURES.filter((f) => f !== 'direct-tls'),
    );
    const [s, r] = await both(['ram-stream', 'direct-ram', 'direct-tls'], older);
    expect(reason(s)).toBe("refusing to migrate: the receiver lacks required feature(s) 'direct-tls'");
    expect(reason(r)).toBe(
      "refusing the migration: the sender requires feature(s) this xl lacks: 'direct-tls'",
    );
  });

  test('direct-tls: a receiver that sends anything but its key after the hello is refused', async () => {
    const p = pipes();
    const w = new StreamWriter(p.back);
    p.back.write(BANNER);
    await w.writeStreamHeader();
    await w.writeRecord('MIGRATION_HELLO', makeHello([]));
    await w.writeRecord('PHASE_READY', { phase: 1 });
    await expect(
      senderHandshake({ input: p.back, output: p.forward, config, requires: ['ram-stream', 'direct-tls'] }),
    ).rejects.toThrow('the receiver sent PHASE_READY where its MIGRATION_KEY belongs');
  });
});
