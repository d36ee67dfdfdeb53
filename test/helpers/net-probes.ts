// Network probes run inside a namespace against a guest: a ping flood whose replies are
// counted by sequence number, and a TCP connection held open to the guest's echo port
// (tools/guest/init: port 7 echoes). Both are killed when the current test ends.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { track } from './cleanup-registry.js';
import type { NetnsHost } from './netns.js';
import { tempDir } from './temp-dir.js';

/** Collects a child's stdout lines; `waitFor` resolves once a line matches. */
class Lines {
  readonly all: string[] = [];
  #pending = '';

  constructor(child: ResultPromise) {
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (text: string) => {
      this.#pending += text;
      let nl: number;
      while ((nl = this.#pending.indexOf('\n')) >= 0) {
        this.all.push(this.#pending.slice(0, nl));
        this.#pending = this.#pending.slice(nl + 1);
      }
    });
  }

  async waitFor(pred: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = 0; ;) {
      for (; seen < this.all.length; seen++) if (pred(this.all[seen]!)) return this.all[seen]!;
      if (Date.now() > deadline)
        throw new Error(`${what}: not seen in ${timeoutMs} ms; last: ${this.all.slice(-3).join(' | ')}`);
      await sleep(20);
    }
  }
}

function killOnCleanup(child: ResultPromise, label: string): void {
  const kill = () => void child.kill('SIGKILL');
  track({ label, run: async () => kill(), runSync: kill });
}

export interface PingFlood {
  /** Sequence numbers answered so far (duplicates once). */
  answered(): number[];
  /** Waits until `n` more replies than now have arrived. */
  waitForMore(n: number, timeoutMs?: number): Promise<void>;
  /** Stops ping; returns the sequence numbers answered and those lost between the first and last answer. */
  stop(): Promise<{ answered: number[]; lost: number[] }>;
}

/** `ping -i intervalMs/1000 ADDRESS` from `from`, replies tracked by icmp_seq. */
export function pingFlood(from: NetnsHost, address: string, intervalMs: number): PingFlood {
  const [file, ...args] = from.wrap(['ping', '-n', '-i', String(intervalMs / 1000), address]);
  const child = execa(file!, args, { reject: false, stdin: 'ignore', buffer: false });
  killOnCleanup(child, `ping ${address} in ${from.ns}`);
  const lines = new Lines(child);
  const answered = () => [
    ...new Set(
      lines.all.flatMap((l) => {
        const m = /bytes from .* icmp_seq=(\d+)/.exec(l);
        return m ? [Number(m[1])] : [];
      }),
    ),
  ];
  return {
    answered,
    async waitForMore(n, timeoutMs = 60_000) {
      const target = answered().length + n;
      const deadline = Date.now() + timeoutMs;
      while (answered().length < target) {
        if (Date.now() > deadline)
          throw new Error(`ping ${address}: fewer than ${n} more replies in ${timeoutMs} ms`);
        await sleep(50);
      }
    },
    async stop() {
      child.kill('SIGINT');
      await child;
      const got = answered().sort((x, y) => x - y);
      const seen = new Set(got);
      const lost: number[] = [];
      for (let s = got[0] ?? 0; s <= (got.at(-1) ?? -1); s++) if (!seen.has(s)) lost.push(s);
      return { answered: got, lost };
    },
  };
}

export interface EchoConnection {
  /** Sends one line and waits for it to come back; throws if the connection broke. */
  roundTrip(line: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

const HOLDER = `import net from 'node:net';
import readline from 'node:readline';
const s = net.connect({ host: process.argv[2], port: Number(process.argv[3]) });
s.setEncoding('utf8');
s.on('connect', () => console.log('connected'));
s.on('data', (d) => process.stdout.write(d));
s.on('error', (e) => console.log('error ' + e.message));
s.on('close', () => { console.log('closed'); process.exit(0); });
readline.createInterface({ input: process.stdin }).on('line', (l) => s.write(l + '\\n'));
`;

/** A TCP connection from `from` to ADDRESS:port, held by a small node process in that namespace. */
export async function holdEchoConnection(
  from: NetnsHost,
  address: string,
  port = 7,
  timeoutMs = 30_000,
): Promise<EchoConnection> {
  const script = path.join(tempDir('xlkit-echo-'), 'hold.mjs');
  await writeFile(script, HOLDER);
  const [file, ...args] = from.wrap([process.execPath, script, address, String(port)]);
  const child = execa(file!, args, { reject: false, stdin: 'pipe', buffer: false });
  killOnCleanup(child, `echo connection to ${address}:${port}`);
  const lines = new Lines(child);
  const broken = (l: string) => l === 'closed' || l.startsWith('error ');
  const first = await lines.waitFor((l) => l === 'connected' || broken(l), timeoutMs, 'connect');
  if (first !== 'connected') throw new Error(`TCP connection to ${address}:${port}: ${first}`);
  return {
    async roundTrip(line, ms = 30_000) {
      child.stdin!.write(`${line}\n`);
      const got = await lines.waitFor((l) => l === line || broken(l), ms, `echo of '${line}'`);
      if (got !== line) throw new Error(`TCP connection to ${address}:${port} broke: ${got}`);
    },
    async close() {
      child.stdin!.end();
      child.kill('SIGKILL');
      await child;
    },
  };
}

/** The device's bridge in namespace `host` ('' when it has none), or undefined when it does not exist. */
export async function masterOf(host: NetnsHost, dev: string): Promise<string | undefined> {
  const r = await host.exec(['ip', '-j', 'link', 'show', 'dev', dev], { reject: false });
  if (r.exitCode !== 0) return undefined;
  const [link] = JSON.parse(String(r.stdout)) as { master?: string }[];
  return link?.master ?? '';
}

/** Pings `address` from `from` until it answers (a guest booting), for at most `timeoutMs`. */
export async function waitForPing(from: NetnsHost, address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await from.exec(['ping', '-n', '-c', '1', '-W', '1', address], { reject: false })).exitCode !== 0) {
    if (Date.now() > deadline) throw new Error(`${address} never answered a ping from ${from.ns}`);
  }
}
