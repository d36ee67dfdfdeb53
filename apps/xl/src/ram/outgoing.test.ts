import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from '@xlkit/qmp';
import { FakeQmpServer } from '@xlkit/qmp/testing';
import { StreamWriter } from '@xlkit/stream';
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
async function takenWhileStalled(readAhead: number | undefined): Promise<number> {
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
  });
  sending.catch(() => undefined);
  // QEMU writes until every buffer on the way is full, then blocks.
  let before = -1;
  while (taken() !== before) {
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
});
