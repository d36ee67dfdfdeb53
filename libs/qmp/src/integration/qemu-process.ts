import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QmpClient } from '../qmp-client.js';

/** A QEMU 7.2 process started for a test; `kill()` ends it by pid and is safe to call twice. */
export interface QemuProcess {
  readonly pid: number;
  readonly qmpPath: string;
  readonly exited: Promise<number | null>;
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  connect(): Promise<QmpClient>;
}

/** Base arguments: no guest OS, TCG only (KVM guests abort on the test machine), QMP on a unix socket. */
export function baseArgs(qmpPath: string): string[] {
  return [
    '-machine',
    'q35',
    '-accel',
    'tcg',
    '-m',
    '64',
    '-nodefaults',
    '-display',
    'none',
    '-qmp',
    `unix:${qmpPath},server=on,wait=off`,
  ];
}

/** `-blockdev` pair for a raw file, exposing format node `nodeName`. */
export function rawDiskArgs(file: string, nodeName: string): string[] {
  return [
    '-blockdev',
    `driver=file,filename=${file},node-name=${nodeName}-file`,
    '-blockdev',
    `driver=raw,file=${nodeName}-file,node-name=${nodeName}`,
  ];
}

export function startQemu(qmpPath: string, extraArgs: string[]): QemuProcess {
  const child: ChildProcess = spawn('qemu-system-x86_64', [...baseArgs(qmpPath), ...extraArgs], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  if (child.pid === undefined) throw new Error('qemu-system-x86_64 did not start');
  const pid = child.pid;
  let err = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
  let done = false;
  void exited.then(() => (done = true));
  return {
    pid,
    qmpPath,
    exited,
    stderr: () => err,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (done) return;
      process.kill(pid, signal);
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited;
    },
    connect: () => QmpClient.connect(qmpPath, { connectTimeoutMs: 20_000 }),
  };
}

/** Tracks QEMUs, clients and temp dirs of one test so afterEach can clean up whatever happened. */
export class TestRig {
  private readonly qemus: QemuProcess[] = [];
  private readonly clients: QmpClient[] = [];
  private readonly dirs: string[] = [];

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'xlkit-qmp-it-'));
    this.dirs.push(dir);
    return dir;
  }

  startQemu(qmpPath: string, extraArgs: string[]): QemuProcess {
    const q = startQemu(qmpPath, extraArgs);
    this.qemus.push(q);
    return q;
  }

  async connect(q: QemuProcess): Promise<QmpClient> {
    const c = await q.connect();
    this.clients.push(c);
    return c;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    for (const q of this.qemus.splice(0)) {
      await q.kill('SIGCONT').catch(() => undefined);
      await q.kill('SIGKILL').catch(() => undefined);
    }
    await Promise.all(this.dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  }
}

/** Writes `size` bytes (random, or zeros) to a new file in 1 MiB chunks. */
export async function makeImage(path: string, size: number, random: boolean): Promise<void> {
  const fh = await open(path, 'w');
  try {
    if (!random) {
      await fh.truncate(size);
      return;
    }
    const chunk = 1 << 20;
    for (let off = 0; off < size; off += chunk) await fh.write(randomBytes(Math.min(chunk, size - off)));
  } finally {
    await fh.close();
  }
}

async function* chunksOf(path: string): AsyncGenerator<Buffer> {
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) yield c as Buffer;
}

/** Byte offset of the first difference, or -1 when the files are identical. */
export async function firstDifference(a: string, b: string): Promise<number> {
  const ia = chunksOf(a);
  const ib = chunksOf(b);
  let bufA = Buffer.alloc(0);
  let bufB = Buffer.alloc(0);
  let offset = 0;
  for (;;) {
    if (bufA.length === 0) bufA = (await ia.next()).value ?? Buffer.alloc(0);
    if (bufB.length === 0) bufB = (await ib.next()).value ?? Buffer.alloc(0);
    if (bufA.length === 0 || bufB.length === 0) return bufA.length === bufB.length ? -1 : offset;
    const n = Math.min(bufA.length, bufB.length);
    if (!bufA.subarray(0, n).equals(bufB.subarray(0, n))) {
      for (let i = 0; i < n; i++) if (bufA[i] !== bufB[i]) return offset + i;
    }
    offset += n;
    bufA = bufA.subarray(n);
    bufB = bufB.subarray(n);
  }
}
