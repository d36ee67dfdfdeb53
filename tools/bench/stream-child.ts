/**
 * Writer half of the stream benchmark, run as a child process so writing and reading use
 * separate cores: writes `bytes` of a fixed pseudo-random pattern to stdout (a pipe), either
 * raw or framed into RAM-chunk records with all integrity data.
 * argv: raw|framed <bytes> <pieceSize>
 */
import './as-xl-runs.js';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { StreamWriter } from '@xlkit/stream';

const [mode, bytesArg, pieceArg] = process.argv.slice(2);
const total = Number(bytesArg);
const piece = Number(pieceArg);
const pool = randomBytes(64 * 1024 * 1024);
/**
 * fd 1 as a non-blocking libuv pipe, as xl's own output sockets and ssh pipes are
 * (process.stdout on a pipe writes synchronously on Linux, which no real sender does).
 */
const out = new Socket({ fd: 1, readable: false, writable: true });

/**
 * The bytes as a socket would deliver them: `piece`-sized slices of the pool, repeated, each
 * in its own event-loop turn (as socket reads arrive), so output I/O runs in between.
 */
async function* source(): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < total; sent += piece) {
    const at = sent % pool.length;
    await new Promise((resolve) => setImmediate(resolve));
    yield pool.subarray(at, Math.min(at + piece, pool.length, at + total - sent));
  }
}

async function writeRaw(): Promise<void> {
  for await (const b of source()) {
    if (!out.write(b)) await new Promise((r) => out.once('drain', r));
  }
}

async function writeFramed(): Promise<void> {
  const w = new StreamWriter(out);
  await w.writeXlHeader({ name: 'bench' });
  await w.writeStreamHeader();
  await w.writePhase(3);
  await w.writeRamFrom(source(), { chunkSize: Number(process.env.XLKIT_BENCH_CHUNK ?? 4 * 1024 * 1024) });
  await w.end();
}

const cpu0 = process.cpuUsage();
await (mode === 'raw' ? writeRaw() : writeFramed());
out.end();
const cpu = process.cpuUsage(cpu0);
process.stderr.write(`${JSON.stringify({ writerCpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
