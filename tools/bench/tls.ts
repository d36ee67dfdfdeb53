/**
 * `npm run bench -- tls`: what TLS-PSK (the direct transport's TCP ports, qemu/tls-psk.ts)
 * costs QEMU 7.2, against the same transfer in the clear, over loopback TCP:
 *   - ram: QEMU to QEMU `migrate` of a stopped guest whose RAM (a file-backed memory backend)
 *     is random bytes, so no page is skipped as zero; unlimited bandwidth; timed by QEMU's
 *     total-time; CPU of both QEMUs from /proc.
 *   - nbd: `qemu-img convert -n` of a random raw image into a `qemu-nbd` export; wall clock;
 *     CPU of both processes.
 * Plain and TLS alternate, XLKIT_BENCH_REPS rounds (3) of RAM_MIB (256). Prints best and median
 * MiB/s and median CPU seconds per GiB. No goal: the figures say what the security costs.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpClient, followMigration, migrate, migrateIncoming, migrateSetParameters } from '@xlkit/qmp';
import { bar, writeBenchChart } from './bench-chart.js';
import { median } from './median.js';

const REPS = Math.max(1, Number(process.env.XLKIT_BENCH_REPS ?? 3));
const MIB = Math.max(16, Number(process.env.RAM_MIB ?? 256));
const GIB = 1024 ** 3;
type Mode = 'plain' | 'tls';
interface Run {
  mibPerS: number;
  cpuPerGiB: number;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function randomFile(file: string, mib: number): void {
  const fd = openSync(file, 'w', 0o600);
  try {
    for (let i = 0; i < mib; i++) writeSync(fd, randomBytes(1 << 20));
  } finally {
    closeSync(fd);
  }
}

async function startQemu(dir: string, name: string, ram: string, extra: string[]) {
  const sock = path.join(dir, `${name}.sock`);
  const p = spawn(
    'qemu-system-x86_64',
    [
      ...['-M', 'pc,memory-backend=m', '-m', `${MIB}M`, '-nodefaults', '-display', 'none', '-S'],
      ...['-object', `memory-backend-file,id=m,size=${MIB}M,mem-path=${ram},share=off`],
      ...['-qmp', `unix:${sock},server=on,wait=off`, ...extra],
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 200; i++) {
    try {
      return { p, qmp: await QmpClient.connect(sock) };
    } catch {
      await sleep(50);
    }
  }
  p.kill('SIGKILL');
  throw new Error(`QEMU ${name} gave no QMP socket`);
}

async function ramRound(dir: string, ram: string, keys: string, mode: Mode): Promise<Run> {
  const started: ChildProcess[] = [];
  try {
    const src = await startQemu(dir, 'src', ram, []);
    started.push(src.p);
    const dst = await startQemu(dir, 'dst', ram, ['-incoming', 'defer']);
    started.push(dst.p);
    if (mode === 'tls') {
      for (const [q, endpoint] of [
        [dst.qmp, 'server'],
        [src.qmp, 'client'],
      ] as const) {
        await q.execute('object-add', {
          'qom-type': 'tls-creds-psk',
          id: 'tls0',
          endpoint,
          dir: keys,
          ...(endpoint === 'client' ? { username: 'xlkit' } : {}),
        });
        await migrateSetParameters(q, { 'tls-creds': 'tls0' });
      }
    }
    await migrateSetParameters(src.qmp, { 'max-bandwidth': Number.MAX_SAFE_INTEGER });
    await migrateIncoming(dst.qmp, { uri: 'tcp:127.0.0.1:0' });
    const where = await dst.qmp.execute<{ 'socket-address': { port: string }[] }>('query-migrate');
    const port = where['socket-address'][0]!.port;
    const cpu0 = cpuSeconds(src.p.pid!) + cpuSeconds(dst.p.pid!);
    await migrate(src.qmp, { uri: `tcp:127.0.0.1:${port}` });
    const done = await followMigration(src.qmp, { pollMs: 20 });
    await followMigration(dst.qmp, { pollMs: 20 });
    const cpu = cpuSeconds(src.p.pid!) + cpuSeconds(dst.p.pid!) - cpu0;
    const info = done.info as { 'total-time'?: number; ram?: { transferred?: number } };
    const bytes = info.ram?.transferred ?? 0;
    const seconds = (info['total-time'] ?? 0) / 1000;
    await Promise.all([src.qmp.close(), dst.qmp.close()]);
    return { mibPerS: bytes / 1048576 / seconds, cpuPerGiB: cpu / (bytes / GIB) };
  } finally {
    for (const p of started) p.kill('SIGKILL');
  }
}

async function nbdRound(dir: string, image: string, keys: string, mode: Mode): Promise<Run> {
  const target = path.join(dir, 'target.raw');
  execFileSync('truncate', ['-s', `${MIB}M`, target]);
  const pidFile = path.join(dir, 'nbd.pid');
  const port = String(20000 + Math.floor(Math.random() * 20000));
  const tls = mode === 'tls';
  execFileSync('qemu-nbd', [
    ...(tls ? ['--object', `tls-creds-psk,id=s,endpoint=server,dir=${keys}`, '--tls-creds', 's'] : []),
    ...['-f', 'raw', '-x', 'e', '-b', '127.0.0.1', '-p', port, '--fork', '--pid-file', pidFile, target],
  ]);
  const server = Number(readFileSync(pidFile, 'utf8'));
  try {
    const cpu0 = cpuSeconds(server);
    const t0 = performance.now();
    const client = spawn(
      'qemu-img',
      [
        ...['convert', '-n', '-f', 'raw'],
        ...(tls ? ['--object', `tls-creds-psk,id=c,endpoint=client,dir=${keys},username=xlkit`] : []),
        ...['--target-image-opts', image],
        `driver=nbd,server.type=inet,server.host=127.0.0.1,server.port=${port},export=e${tls ? ',tls-creds=c' : ''}`,
      ],
      { stdio: 'ignore' },
    );
    let clientCpu = 0;
    const timer = setInterval(() => {
      try {
        clientCpu = cpuSeconds(client.pid!);
      } catch {
        // Gone.
      }
    }, 20);
    const code = await new Promise<number | null>((resolve) => client.on('exit', resolve));
    clearInterval(timer);
    if (code !== 0) throw new Error(`qemu-img convert exited ${String(code)}`);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(server) - cpu0 + clientCpu;
    return { mibPerS: MIB / seconds, cpuPerGiB: cpu / (MIB / 1024) };
  } finally {
    process.kill(server, 'SIGKILL');
    rmSync(target, { force: true });
  }
}

function line(what: string, mode: Mode, runs: readonly Run[]): string {
  const rates = runs.map((r) => r.mibPerS);
  return `${what} ${mode.padEnd(5)} best ${Math.max(...rates).toFixed(0)} MiB/s, median ${median(rates).toFixed(0)} MiB/s, CPU median ${median(runs.map((r) => r.cpuPerGiB)).toFixed(1)} s/GiB`;
}

export async function benchTls(): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-bench-tls-'));
  const ram = path.join('/dev/shm', `xlkit-bench-tls-${process.pid}`);
  try {
    const keys = path.join(dir, 'keys');
    mkdirSync(keys, { mode: 0o700 });
    writeFileSync(path.join(keys, 'keys.psk'), `xlkit:${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
    randomFile(ram, MIB);
    const image = path.join(dir, 'source.raw');
    randomFile(image, MIB);
    const runs = {
      ram: { plain: [] as Run[], tls: [] as Run[] },
      nbd: { plain: [] as Run[], tls: [] as Run[] },
    };
    for (let r = 0; r < REPS; r++) {
      for (const mode of (r % 2 === 0 ? ['plain', 'tls'] : ['tls', 'plain']) as Mode[]) {
        runs.ram[mode].push(await ramRound(dir, ram, keys, mode));
        runs.nbd[mode].push(await nbdRound(dir, image, keys, mode));
      }
    }
    console.log(`npm run bench -- tls: ${MIB} MiB random, ${REPS} alternating rounds, loopback TCP`);
    for (const what of ['ram', 'nbd'] as const)
      for (const mode of ['plain', 'tls'] as const) console.log(line(what, mode, runs[what][mode]));
    const chart = writeBenchChart(
      'tls',
      'TLS-PSK vs plain, QEMU over loopback TCP',
      'MiB/s (higher is better)',
      [
        {
          label: 'ram',
          bars: (['plain', 'tls'] as const).map((m) =>
            bar(
              m,
              runs.ram[m].map((x) => x.mibPerS),
            ),
          ),
        },
        {
          label: 'nbd',
          bars: (['plain', 'tls'] as const).map((m) =>
            bar(
              m,
              runs.nbd[m].map((x) => x.mibPerS),
            ),
          ),
        },
      ],
    );
    console.log(`chart: ${chart}`);
  } finally {
    rmSync(ram, { force: true });
    rmSync(dir, { recursive: true, force: true });
  }
}
