/**
 * `npm run bench -- stream`: 1 GiB through a pipe from a writer process to this one, raw and
 * framed (RAM-chunk records, per-chunk crc32 and end digest checked by the reader).
 */
import './as-xl-runs.js';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readStream, readableChunks } from '@xlkit/stream';
import { bar, writeBenchChart } from './bench-chart.js';

const TOTAL = Number(process.env.XLKIT_BENCH_BYTES ?? 1024 ** 3);
const PIECE = 64 * 1024;
const CHILD = fileURLToPath(new URL('./stream-child.ts', import.meta.url));

interface Run {
  seconds: number;
  bytes: number;
  readerCpu: number;
  writerCpu: number;
}

async function run(mode: 'raw' | 'framed'): Promise<Run> {
  const child = spawn(process.execPath, [...process.execArgv, CHILD, mode, String(TOTAL), String(PIECE)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let errText = '';
  child.stderr.on('data', (b: Buffer) => {
    errText += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  let start = 0n;
  let bytes = 0;
  let cpu0 = process.cpuUsage();
  if (mode === 'raw') {
    for await (const b of readableChunks<Buffer>(child.stdout)) {
      if (start === 0n) {
        start = process.hrtime.bigint();
        cpu0 = process.cpuUsage();
      }
      bytes += (b as Buffer).length;
    }
  } else {
    const reader = readStream(child.stdout);
    await reader.headers();
    start = process.hrtime.bigint();
    cpu0 = process.cpuUsage();
    // As xl's receivers consume it: record by record, each chunk's slices crc-checked by the
    // reader before the record is returned (and the digest checked at RAM_END).
    for await (const rec of reader) {
      if (rec.name === 'RAM_CHUNK') bytes += rec.value.length;
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  const code = await exited;
  if (code !== 0) throw new Error(`bench writer (${mode}) exited with ${code}: ${errText}`);
  if (bytes !== TOTAL) throw new Error(`bench ${mode}: expected ${TOTAL} bytes, got ${bytes}`);
  const report = JSON.parse(errText.trim().split('\n').at(-1) ?? '{}') as { writerCpuSeconds?: number };
  return {
    seconds,
    bytes,
    readerCpu: (cpu.user + cpu.system) / 1e6,
    writerCpu: report.writerCpuSeconds ?? NaN,
  };
}

const gbps = (r: Run) => r.bytes / r.seconds / 1e9;
const gib = (r: Run) => r.bytes / 1024 ** 3;
const cpuLine = (r: Run) =>
  `CPU per GiB: writer ${(r.writerCpu / gib(r)).toFixed(2)} s, reader ${(r.readerCpu / gib(r)).toFixed(2)} s`;

const ROUNDS = Number(process.env.XLKIT_BENCH_ROUNDS ?? 5);

/** The run with the median throughput. */
function median(runs: Run[]): Run {
  return [...runs].sort((a, b) => gbps(a) - gbps(b))[Math.floor(runs.length / 2)] as Run;
}

export async function benchStream(): Promise<void> {
  await run('raw'); // warm-up: page cache, JIT
  const raws: Run[] = [];
  const frameds: Run[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    raws.push(await run('raw'));
    frameds.push(await run('framed'));
  }
  const raw = median(raws);
  const framed = median(frameds);
  const ratio = gbps(framed) / gbps(raw);
  console.log('command: npm run bench -- stream');
  console.log(
    `payload: ${(TOTAL / 1024 ** 3).toFixed(2)} GiB through a pipe (writer process -> reader process), ${PIECE / 1024} KiB source pieces, 4 MiB RAM chunks`,
  );
  console.log(
    `rounds: ${ROUNDS} alternating raw/framed pairs, median of each (raw ${raws.map((r) => gbps(r).toFixed(2)).join(', ')}; framed ${frameds.map((r) => gbps(r).toFixed(2)).join(', ')} GB/s)`,
  );
  console.log(`raw:    ${gbps(raw).toFixed(2)} GB/s (${raw.seconds.toFixed(2)} s); ${cpuLine(raw)}`);
  console.log(
    `framed: ${gbps(framed).toFixed(2)} GB/s (${framed.seconds.toFixed(2)} s); ${cpuLine(framed)}; crc32 per chunk + crc-list-sha256 digest, all reader checks`,
  );
  const chart = writeBenchChart(
    'stream',
    'RAM stream through a pipe: framed (crc32 + digest) vs raw',
    'GB/s (higher is better)',
    [{ label: 'throughput', bars: [bar('raw', raws.map(gbps)), bar('framed', frameds.map(gbps))] }],
  );
  console.log(`chart: ${chart}`);
  console.log(
    `ratio:  ${(ratio * 100).toFixed(1)}% of raw (goal >= 85% and >= 1.5 GB/s: ${ratio >= 0.85 && gbps(framed) >= 1.5 ? 'met' : 'NOT met'})`,
  );
}
