// Shared pieces of the xl end-to-end suites: xl "hosts" (state dirs), guest configs,
// heartbeat checks, and a watcher that remembers every QEMU a host ever recorded so the
// tests can prove none survives.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type Options, type ResultPromise } from 'execa';
import { QmpClient, queryNamedBlockNodes } from '@xlkit/qmp';
import { isProcessAlive, type DomainRecord } from '@xlkit/xl';
import { guestArtifacts, heartbeats, repoRoot, tempDir, track } from './helpers/index.js';

export const XL = path.join(repoRoot, 'apps', 'xl', 'bin', 'xl.js');
export const BOOT_TIMEOUT_MS = 90_000;

export interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export function records(stateDir: string): DomainRecord[] {
  const root = path.join(stateDir, 'domains');
  if (!existsSync(root)) return [];
  const out: DomainRecord[] = [];
  for (const id of readdirSync(root)) {
    try {
      out.push(JSON.parse(readFileSync(path.join(root, id, 'domain.json'), 'utf8')) as DomainRecord);
    } catch {
      // Being removed or written.
    }
  }
  return out;
}

/** Remembers every QEMU and owner pid recorded in a state dir while it runs. */
/** A domain's runtime directory on `host`, found by name. */
export function domainDir(host: XlHost, name: string): string {
  const r = records(host.stateDir).find((x) => x.name === name);
  if (!r) throw new Error(`no domain ${name} in ${host.stateDir}`);
  return path.join(host.stateDir, 'domains', String(r.id));
}

/** Whether QEMU opened each of the domain's disk images with O_DIRECT (their file nodes' cache.direct). */
export async function diskDirectIo(host: XlHost, name: string): Promise<Record<string, boolean>> {
  const qmp = await QmpClient.connect(path.join(domainDir(host, name), 'qmp.sock'));
  try {
    const files = (await queryNamedBlockNodes(qmp, { flat: true })).filter((n) =>
      /^disk-.*-file$/.test(String(n['node-name'])),
    );
    return Object.fromEntries(files.map((n) => [String(n['node-name']), n.cache?.direct === true]));
  } finally {
    await qmp.close();
  }
}

export class RecordWatcher {
  readonly qemus = new Map<number, number>();
  readonly seen: DomainRecord[] = [];
  #timer: NodeJS.Timeout;

  constructor(readonly stateDir: string) {
    this.#timer = setInterval(() => this.poll(), 25);
  }

  poll(): void {
    for (const r of records(this.stateDir)) {
      this.seen.push(r);
      if (r.qemu) this.qemus.set(r.qemu.pid, r.qemu.startTime);
    }
  }

  /** The first record matching `pred`, waiting for it. */
  async waitFor(pred: (r: DomainRecord) => boolean, timeoutMs = 60_000): Promise<DomainRecord> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = records(this.stateDir).find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no matching domain record in ${this.stateDir}`);
      await sleep(20);
    }
  }

  liveQemus(): number[] {
    this.poll();
    return [...this.qemus].filter(([pid, start]) => isProcessAlive(pid, start)).map(([pid]) => pid);
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

function killRecorded(stateDir: string): void {
  for (const r of records(stateDir)) {
    if (r.qemu && isProcessAlive(r.qemu.pid, r.qemu.startTime)) process.kill(r.qemu.pid, 'SIGKILL');
  }
}

export interface XlHost {
  dir: string;
  stateDir: string;
  xl(...args: string[]): Promise<Run>;
  watcher: RecordWatcher;
}

/** A state dir whose QEMUs are killed (by recorded pid) when the test ends, pass or fail. */
export function xlHost(prefix: string): XlHost {
  const dir = tempDir(prefix);
  const stateDir = path.join(dir, 's');
  const watcher = new RecordWatcher(stateDir);
  const kill = () => {
    watcher.stop();
    killRecorded(stateDir);
    for (const [pid, start] of watcher.qemus) if (isProcessAlive(pid, start)) process.kill(pid, 'SIGKILL');
    // Shared-memory domains' RAM files (under /dev/shm) outlive a QEMU killed here.
    for (const r of [...watcher.seen, ...records(stateDir)])
      if (r.ramFile && /^\/dev\/shm\/xlkit-ram-[0-9a-f]{32}$/.test(r.ramFile.path))
        rmSync(r.ramFile.path, { force: true });
  };
  track({ label: `QEMUs of ${stateDir}`, run: async () => kill(), runSync: kill });
  return {
    dir,
    stateDir,
    watcher,
    xl: async (...args) => {
      const r = await execa('node', [XL, '--state-dir', stateDir, ...args], {
        reject: false,
        stdin: 'ignore',
        timeout: 120_000,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    },
  };
}

export async function guestConfig(
  dir: string,
  name: string,
  extra: Record<string, string | number> = {},
): Promise<string> {
  const guest = guestArtifacts();
  const file = path.join(dir, `${name}.cfg`);
  const fields: Record<string, string | number> = {
    name: `"${name}"`,
    memory: 128,
    vcpus: 1,
    kernel: `"${guest.kernel}"`,
    ramdisk: `"${guest.initramfs}"`,
    extra: '"console=ttyS0 quiet"',
    accel: '"tcg"',
    ...extra,
  };
  await writeFile(
    file,
    `${Object.entries(fields)
      .map(([k, v]) => `${k} = ${v}`)
      .join('\n')}\n`,
  );
  return file;
}

export async function consoleBeats(host: XlHost, dom: string): Promise<number[]> {
  const r = await host.xl('console', dom);
  if (r.exitCode !== 0) throw new Error(`xl console ${dom}: ${r.stderr}`);
  return heartbeats(r.stdout);
}

/** Polls `probe` every `stepMs` until it returns a value; throws naming `what` after `ms`. */
export async function until<T>(
  what: string,
  probe: () => T | undefined,
  ms: number,
  stepMs = 100,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Polls the console log until a heartbeat above `after` shows up; returns all beats then. */
export async function waitForBeatAbove(host: XlHost, dom: string, after: number): Promise<number[]> {
  const deadline = Date.now() + BOOT_TIMEOUT_MS;
  for (;;) {
    const beats = await consoleBeats(host, dom);
    const last = beats.at(-1);
    if (last !== undefined && last > after) return beats;
    if (Date.now() > deadline)
      throw new Error(`no heartbeat above ${after} from ${dom}; saw ${beats.slice(-5).join(',')}`);
    await sleep(300);
  }
}

/** The latest heartbeat, once one above `after` shows up. */
export async function lastBeatAbove(host: XlHost, dom: string, after: number): Promise<number> {
  return (await waitForBeatAbove(host, dom, after)).at(-1)!;
}

/** Every beat is one more than the previous: the guest never restarted or lost its RAM. */
export function continuous(beats: number[]): boolean {
  return beats.every((b, i) => i === 0 || b === beats[i - 1]! + 1);
}

/** `xl migrate -s '' DOMAIN 'node xl.js --state-dir B migrate-receive'` (test-controlled HOST). */
export function sameHostReceiver(b: XlHost): string {
  return `node ${XL} --state-dir ${b.stateDir} migrate-receive`;
}

export function startMigrate(a: XlHost, args: string[], options: Options = {}): ResultPromise {
  return execa('node', [XL, '--state-dir', a.stateDir, 'migrate', ...args], {
    reject: false,
    stdin: 'ignore',
    timeout: 180_000,
    ...options,
  });
}

/** NDJSON lines of a running xl --json, as they arrive. */
export function onJsonLines(stream: NodeJS.ReadableStream, fn: (ev: Record<string, unknown>) => void): void {
  let pending = '';
  stream.setEncoding('utf8');
  stream.on('data', (text: string) => {
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        fn(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not an event.
      }
    }
  });
}

/**
 * SIGKILLs the receiving xl (the owner of DOMAIN--incoming on host `b`) at the first progress
 * event of `phase` that has moved bytes; the returned function says whether it happened.
 */
export function killReceiverAt(child: ResultPromise, b: XlHost, name: string, phase: string): () => boolean {
  let killed = false;
  onJsonLines(child.stdout!, (ev) => {
    if (killed || ev.event !== 'progress' || ev.phase !== phase || !((ev.bytes as number) > 0)) return;
    const owner = records(b.stateDir).find((d) => d.name === `${name}--incoming`)?.ownerPid;
    if (owner === undefined) return;
    killed = true;
    process.kill(owner, 'SIGKILL');
  });
  return () => killed;
}
