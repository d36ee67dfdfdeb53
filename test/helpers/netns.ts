import { spawnSync } from 'node:child_process';
import { execa, type Options, type Result } from 'execa';
import { track, settle, type Cleanup } from './cleanup-registry.js';

/** Namespace names start with this, then the creating process's pid: `xlk<pid>-<n><a|b>`. */
export const NETNS_PREFIX = 'xlk';

export interface NetnsHost {
  /** Network namespace name (for `ip netns exec`, `bootGuest({ netns })`). */
  ns: string;
  /** This side's veth interface name inside the namespace. */
  ifname: string;
  /** IPv4 address without prefix length, e.g. 10.77.3.1. */
  address: string;
  /** Runs a command inside the namespace (argument array, no shell). */
  exec(args: readonly string[], options?: Options): Promise<Result>;
  /** The argument vector that runs `args` inside the namespace, for spawning yourself. */
  wrap(args: readonly string[]): string[];
}

export interface HostPair {
  a: NetnsHost;
  b: NetnsHost;
  /** Prefix length of the link between them. */
  prefixLength: number;
  /** Deletes both namespaces (and with them the veth pair); safe to call twice. */
  remove(): Promise<void>;
}

let counter = 0;

function host(ns: string, address: string): NetnsHost {
  const wrap = (args: readonly string[]) => ['ip', 'netns', 'exec', ns, ...args];
  return {
    ns,
    ifname: 'veth0',
    address,
    wrap,
    exec: (args, options) => {
      const [file, ...rest] = wrap(args);
      return execa(file!, rest, options ?? {}) as Promise<Result>;
    },
  };
}

/** Lists the namespaces that exist now. */
export async function listNetns(): Promise<string[]> {
  const { stdout } = await execa('ip', ['netns', 'list']);
  return stdout
    .split('\n')
    .map((line) => line.split(' ')[0] ?? '')
    .filter(Boolean);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Deletes namespaces left behind by test processes that died before cleaning up. */
export async function sweepStaleNetns(): Promise<string[]> {
  const stale = (await listNetns()).filter((name) => {
    const m = new RegExp(`^${NETNS_PREFIX}(\\d+)-\\d+[abc]$`).exec(name);
    return m?.[1] !== undefined && !pidAlive(Number(m[1]));
  });
  for (const name of stale) await execa('ip', ['netns', 'del', name], { reject: false });
  return stale;
}

/**
 * Two network namespaces ("hosts") joined by a veth pair: `a` is 10.77.<n>.1/24 and `b`
 * 10.77.<n>.2/24, both with loopback up. Removed when the current test ends (passed or
 * failed), by `remove()`, or at process exit.
 */
export async function createHostPair(): Promise<HostPair> {
  await sweepStaleNetns();
  const n = counter++;
  const base = `${NETNS_PREFIX}${process.pid}-${n}`;
  const subnet = `10.77.${n % 256}`;
  const a = host(`${base}a`, `${subnet}.1`);
  const b = host(`${base}b`, `${subnet}.2`);
  const prefixLength = 24;

  const del = (ns: string) => execa('ip', ['netns', 'del', ns], { reject: false });
  const cleanup: Cleanup = {
    label: `netns ${a.ns} ${b.ns}`,
    async run() {
      await Promise.all([del(a.ns), del(b.ns)]);
    },
    runSync() {
      spawnSync('ip', ['netns', 'del', a.ns]);
      spawnSync('ip', ['netns', 'del', b.ns]);
    },
  };
  track(cleanup);

  try {
    await execa('ip', ['netns', 'add', a.ns]);
    await execa('ip', ['netns', 'add', b.ns]);
    await execa('ip', [
      'link',
      'add',
      'veth0',
      'netns',
      a.ns,
      'type',
      'veth',
      'peer',
      'name',
      'veth0',
      'netns',
      b.ns,
    ]);
    for (const side of [a, b]) {
      await side.exec(['ip', 'link', 'set', 'lo', 'up']);
      await side.exec(['ip', 'addr', 'add', `${side.address}/${prefixLength}`, 'dev', side.ifname]);
      await side.exec(['ip', 'link', 'set', side.ifname, 'up']);
    }
  } catch (error) {
    await settle(cleanup);
    throw error;
  }
  return { a, b, prefixLength, remove: () => settle(cleanup) };
}

export interface BridgedHosts extends HostPair {
  /** The Linux bridge on each host (`a` and `b` carry their addresses on it). */
  bridge: string;
  /** A third namespace on the same L2 segment (its veth is a port of a's bridge). */
  client: NetnsHost;
}

/**
 * Like createHostPair, but each host has a Linux bridge `br0` with its veth enslaved and its
 * address moved onto the bridge, so both bridges are one L2 segment; a third namespace
 * "client" (10.77.<n>.3) hangs off a's bridge. A guest on either bridge is reachable from all
 * three. Removed with the pair.
 */
export async function createBridgedHosts(): Promise<BridgedHosts> {
  const pair = await createHostPair();
  const { a, b, prefixLength } = pair;
  const client = host(a.ns.replace(/a$/, 'c'), a.address.replace(/\.1$/, '.3'));
  const del = () => execa('ip', ['netns', 'del', client.ns], { reject: false });
  const cleanup: Cleanup = {
    label: `netns ${client.ns}`,
    async run() {
      await del();
    },
    runSync() {
      spawnSync('ip', ['netns', 'del', client.ns]);
    },
  };
  track(cleanup);
  const remove = async () => {
    await settle(cleanup);
    await pair.remove();
  };
  const bridge = 'br0';
  try {
    for (const side of [a, b]) {
      await side.exec(['ip', 'link', 'add', bridge, 'type', 'bridge', 'forward_delay', '0']);
      await side.exec(['ip', 'addr', 'del', `${side.address}/${prefixLength}`, 'dev', side.ifname]);
      await side.exec(['ip', 'link', 'set', side.ifname, 'master', bridge]);
      await side.exec(['ip', 'addr', 'add', `${side.address}/${prefixLength}`, 'dev', bridge]);
      await side.exec(['ip', 'link', 'set', bridge, 'up']);
    }
    await execa('ip', ['netns', 'add', client.ns]);
    await execa('ip', [
      'link',
      'add',
      'veth1',
      'netns',
      a.ns,
      'type',
      'veth',
      'peer',
      'name',
      client.ifname,
      'netns',
      client.ns,
    ]);
    await a.exec(['ip', 'link', 'set', 'veth1', 'master', bridge, 'up']);
    await client.exec(['ip', 'link', 'set', 'lo', 'up']);
    await client.exec(['ip', 'addr', 'add', `${client.address}/${prefixLength}`, 'dev', client.ifname]);
    await client.exec(['ip', 'link', 'set', client.ifname, 'up']);
  } catch (error) {
    await remove();
    throw error;
  }
  return { a, b, client, prefixLength, bridge, remove };
}

/** Runs `body` with a fresh host pair and removes it afterwards, whatever happens. */
export async function withNetns<T>(body: (pair: HostPair) => Promise<T>): Promise<T> {
  const pair = await createHostPair();
  try {
    return await body(pair);
  } finally {
    await pair.remove();
  }
}
