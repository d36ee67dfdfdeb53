/**
 * The TCP port a process listens on, from /proc: its socket inodes (/proc/PID/fd) matched
 * against the LISTEN entries of /proc/PID/net/tcp and tcp6 (the process's own network
 * namespace). Lets QEMU's NBD server bind an ephemeral port (port 0) that xl then reports.
 */
import { readFile, readdir, readlink } from 'node:fs/promises';

async function socketInodes(pid: number): Promise<Set<string>> {
  const out = new Set<string>();
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m?.[1]) out.add(m[1]);
  }
  return out;
}

/** Parses /proc/net/tcp text: [local port, inode] of every LISTEN (state 0A) socket. */
export function listeningPorts(text: string): { port: number; inode: string }[] {
  const out: { port: number; inode: string }[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== '0A') continue;
    const port = Number.parseInt((f[1] ?? '').split(':')[1] ?? '', 16);
    if (Number.isInteger(port) && port > 0) out.push({ port, inode: f[9] ?? '' });
  }
  return out;
}

/** The ports `pid` listens on now (sorted). */
export async function listeningPortsOf(pid: number): Promise<number[]> {
  const inodes = await socketInodes(pid);
  const ports = new Set<number>();
  for (const file of ['tcp', 'tcp6']) {
    const text = await readFile(`/proc/${pid}/net/${file}`, 'utf8').catch(() => '');
    for (const l of listeningPorts(text)) if (inodes.has(l.inode)) ports.add(l.port);
  }
  return [...ports].sort((a, b) => a - b);
}
