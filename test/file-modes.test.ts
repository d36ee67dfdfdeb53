// End to end: what a real `xl create` leaves on the host is its user's alone. The guest's
// console output, QEMU's log, its control sockets and (memory_backing = "shared") its RAM:
// no group or other bits on any of them, even though QEMU, once daemonized, makes its own
// files with umask 027 (sockets 0750, the console log 0640 before xl made them private).
import { describe, expect, it } from 'vitest';
import { lstatSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { guestConfig, records, xlHost } from './xl-rig.js';

interface Entry {
  path: string;
  kind: 'dir' | 'file' | 'socket' | 'symlink' | 'other';
  mode: number;
  uid: number;
}

/** Every entry under `root` (root included), by lstat: symlinks are not followed. */
function walk(root: string): Entry[] {
  const st = lstatSync(root);
  const kind = st.isDirectory()
    ? 'dir'
    : st.isFile()
      ? 'file'
      : st.isSocket()
        ? 'socket'
        : st.isSymbolicLink()
          ? 'symlink'
          : 'other';
  const self: Entry = { path: root, kind, mode: st.mode & 0o7777, uid: st.uid };
  if (kind !== 'dir') return [self];
  return [self, ...readdirSync(root).flatMap((name) => walk(path.join(root, name)))];
}

const octal = (e: Entry) => `${e.kind} ${e.mode.toString(8).padStart(4, '0')} ${e.path}`;

describe('file modes after xl create', () => {
  it('state dir, domain dir and log dir: dirs 0700, files and sockets 0600 at most, RAM file 0600', async () => {
    const host = xlHost('xl-modes-');
    const cfg = await guestConfig(host.dir, 'modes', { memory_backing: '"shared"' });
    const created = await host.xl('create', cfg);
    expect(created.exitCode, created.stderr).toBe(0);
    const record = records(host.stateDir).find((r) => r.name === 'modes');
    const domainDir = path.join(host.stateDir, 'domains', String(record!.id));
    const logDir = path.join(host.stateDir, 'logs');

    // Everything xl and QEMU made: the state dir holds the domain's dir and (with --state-dir)
    // the log dir.
    const entries = walk(host.stateDir);
    const names = entries.map((e) => path.relative(host.stateDir, e.path));
    for (const expected of ['qmp.sock', 'console.sock', 'qemu.pid', 'domain.json', 'qemu.log', 'console.log'])
      expect(names).toContain(path.join(path.relative(host.stateDir, domainDir), expected));
    expect(names).toEqual(expect.arrayContaining(['logs/qemu-modes.log', 'logs/console-modes.log']));

    const uid = process.getuid!();
    const wrong = entries.filter((e) => {
      if (e.uid !== uid) return true;
      switch (e.kind) {
        case 'dir':
          return e.mode !== 0o700;
        // At most rw for the owner. Sockets exactly so: QEMU's are narrowed once it is up, and
        // until then the 0700 directory they sit in keeps everyone else out.
        case 'file':
          return (e.mode & ~0o600) !== 0;
        case 'socket':
          return e.mode !== 0o600;
        // A symlink's own mode means nothing: the domain's links must lead into the log dir,
        // whose files are checked here as well.
        case 'symlink':
          return path.dirname(readlinkSync(e.path)) !== logDir;
        default:
          return true;
      }
    });
    expect(wrong.map(octal)).toEqual([]);

    // The guest's RAM, in /dev/shm where every user can list it.
    expect(record!.ramFile?.path).toMatch(/^\/dev\/shm\/xlkit-ram-/);
    const ram = lstatSync(record!.ramFile!.path);
    expect({ uid: ram.uid, mode: (ram.mode & 0o7777).toString(8) }).toEqual({ uid, mode: '600' });

    expect((await host.xl('destroy', 'modes')).exitCode).toBe(0);
  });
});
