import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from '@xlkit/qmp';
import { FakeQmpServer } from '@xlkit/qmp/testing';
import { StreamReader, StreamWriter } from '@xlkit/stream';
import { RamCredit } from './ram-credit.js';
import { sendRam } from './outgoing.js';

const MiB = 1024 * 1024;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A fake QEMU whose `migrate` connects to the unix: URI and writes as fast as the socket takes
 * it (as QEMU's migration thread does, blocking on a full socket), counting what was taken.
 */
async function floodingQemu(): Promise<{ qmp: QmpClient; taken: () => number; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-outgoing-'));
  let taken = 0;
  let status = 'none';
  let conn: net.Socket | undefined;
  const server = await FakeQmpServer.start({
    handlers: {
      'migrate-set-parameters': () => ({}),
      'migrate-set-capabilities': () => ({}),
      migrate: (args) => {
        status = 'active';
        const c = net.connect(String(args.uri).slice('unix:'.length));
        conn = c;
        c.on('error', () => undefined);
        const piece = Buffer.alloc(64 * 1024, 0x5a);
        const pump = () => {
          while (status === 'active' && !c.destroyed) {
            if (!c.write(piece, () => (taken += piece.length))) return void c.once('drain', pump);
          }
        };
        c.once('connect', pump);
        return {};
      },
      'query-migrate': () => ({ status }),
      migrate_cancel: () => {
        status = 'cancelled';
        conn?.destroy();
        return {};
      },
    },
  });
  const qmp = await QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000 });
  cleanups.push(async () => {
    await qmp.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { qmp, taken: () => taken, dir };
}

/** Runs sendRam with a credit of one chunk and never more; returns what QEMU got to write meanwhile. */
async function takenWhileStalled(
  readAhead: number | undefined,
  migration: { flushIdleMs?: number; nativeRead?: boolean } = {},
): Promise<number> {
  const { qmp, taken, dir } = await floodingQemu();
  const out = new PassThrough();
  out.resume();
  const writer = new StreamWriter(out);
  await writer.writeStreamHeader();
  await writer.writePhase(3);
  const abort = new AbortController();
  const credit = new RamCredit(abort.signal);
  credit.grant(MiB);
  const sending = sendRam(qmp, {
    socketPath: path.join(dir, 'migrate.sock'),
    writer,
    credit,
    chunkSize: MiB,
    pollMs: 50,
    signal: abort.signal,
    ...(readAhead === undefined ? {} : { readAhead }),
    ...migration,
  });
  sending.catch(() => undefined);
  // QEMU writes until every buffer on the way is full, then blocks. On a loaded machine a
  // pause of 200 ms can come before that, so the wait goes on until the credit's megabyte and
  // more are taken: the next chunk, whole or (idle flush) partial, waits for credit.
  let before = -1;
  while (taken() !== before || taken() <= MiB) {
    before = taken();
    await sleep(200);
  }
  abort.abort();
  await expect(sending).rejects.toThrow(/interrupted/);
  return taken();
}

describe('sendRam', () => {
  it("holds at most its read-ahead of QEMU's stream while the framing waits for credit", async () => {
    // One chunk sent, the next one being assembled, one chunk of read-ahead queued, and the
    // kernel's socket buffers: then QEMU is held back.
    const tight = await takenWhileStalled(MiB);
    expect(tight).toBeGreaterThanOrEqual(2 * MiB);
    expect(tight).toBeLessThan(4 * MiB);
    // A save's default read-ahead lets QEMU run 8 MiB further ahead.
    const deep = await takenWhileStalled(undefined);
    expect(deep).toBeGreaterThan(9 * MiB);
  });

  it('a migration read natively holds no more: the chunk sent, the next (maybe partial), the socket buffers', async () => {
    const taken = await takenWhileStalled(MiB, { flushIdleMs: 1, nativeRead: true });
    expect(taken).toBeGreaterThan(MiB);
    expect(taken).toBeLessThan(4 * MiB);
  });
});

/** A fake QEMU that writes `data` in uneven pieces with pauses, closes, and only then reports completed. */
async function scriptedQemu(data: Buffer): Promise<{ qmp: QmpClient; dir: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-outgoing-'));
  let status = 'none';
  const server = await FakeQmpServer.start({
    handlers: {
      'migrate-set-parameters': () => ({}),
      'migrate-set-capabilities': () => ({}),
      migrate: (args) => {
        status = 'active';
        const c = net.connect(String(args.uri).slice('unix:'.length));
        c.on('error', () => undefined);
        c.once('connect', async () => {
          for (let at = 0, i = 0; at < data.length; i++) {
            const n = [300, 700_000, 1, 2 * MiB, 65_536][i % 5] as number;
            c.write(data.subarray(at, at + n));
            at += n;
            if (i % 3 === 0) await sleep(5);
          }
          c.end(() => (status = 'completed'));
        });
        return {};
      },
      'query-migrate': () => ({ status }),
      migrate_cancel: () => ({}),
    },
  });
  const qmp = await QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000 });
  cleanups.push(async () => {
    await qmp.close();
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { qmp, dir };
}

describe('sendRam, a migration (idle flush)', () => {
  for (const nativeRead of [true, false]) {
    it(`frames QEMU's stream byte for byte, read ${nativeRead ? 'natively where the addon built' : 'through Node'}`, async () => {
      const data = randomBytes(5 * MiB + 12_345);
      const { qmp, dir } = await scriptedQemu(data);
      const out = new PassThrough();
      const got: Buffer[] = [];
      out.on('data', (b: Buffer) => got.push(b));
      const writer = new StreamWriter(out);
      await writer.writeStreamHeader();
      await writer.writePhase(3);
      const r = await sendRam(qmp, {
        socketPath: path.join(dir, 'migrate.sock'),
        writer,
        chunkSize: MiB,
        readAhead: MiB,
        flushIdleMs: 1,
        pollMs: 20,
        nativeRead,
      });
      await writer.end();
      expect(r.bytes).toBe(data.length);
      const reader = new StreamReader(Readable.from([Buffer.concat(got)]));
      await reader.headers();
      expect((await reader.next())?.name).toBe('PHASE');
      const payload: Buffer[] = [];
      for await (const b of reader.ramPayload()) payload.push(Buffer.from(b));
      expect(Buffer.concat(payload).equals(data)).toBe(true);
    });
  }
});
