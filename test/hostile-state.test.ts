// End to end: a state directory is input too. xl refuses one it does not own or others can
// write, and a record planted in it makes xl kill and delete nothing it cannot prove it made.
// No guest boots here: the attacker's records name ordinary processes and files.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { readProcStat, testDomainConfig } from '@xlkit/xl';
import { tempDir, track } from './helpers/index.js';
import { XL } from './xl-rig.js';

async function xl(env: NodeJS.ProcessEnv, ...args: string[]) {
  const r = await execa('node', [XL, ...args], { reject: false, stdin: 'ignore', env, timeout: 60_000 });
  return { exitCode: r.exitCode, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** A process of the victim's: a `sleep` this test starts (and kills when it ends). */
async function victimProcess(): Promise<{ pid: number; startTime: number; alive: () => boolean }> {
  const child = spawn('sleep', ['300'], { stdio: 'ignore' });
  track({
    label: `sleep ${child.pid}`,
    run: async () => void child.kill('SIGKILL'),
    runSync: () => void child.kill('SIGKILL'),
  });
  await once(child, 'spawn');
  const pid = child.pid as number;
  const startTime = readProcStat(pid)!.startTime;
  return { pid, startTime, alive: () => child.exitCode === null && child.signalCode === null };
}

/** A pid that is surely dead: a process that has exited. */
async function deadPid(): Promise<number> {
  const child = execa('true');
  await child;
  return child.pid!;
}

/** The attacker's record: a create whose xl died, naming the victim's process and file. */
async function plant(
  stateDir: string,
  id: number,
  victim: { pid: number; startTime: number },
  files: string[],
  extra: Record<string, unknown> = {},
) {
  const dir = path.join(stateDir, 'domains', String(id));
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const record = {
    id,
    name: 'bait',
    uuid: '00000000-0000-4000-8000-000000000001',
    // A config the record schema accepts: the record must be read to be acted on.
    config: testDomainConfig('bait'),
    status: 'creating',
    createdAt: new Date().toISOString(),
    ownerPid: await deadPid(),
    qemu: { pid: victim.pid, startTime: victim.startTime, binary: 'sleep', argv: ['300'] },
    createdDisks: files,
    ...extra,
  };
  writeFileSync(path.join(dir, 'domain.json'), JSON.stringify(record));
}

describe('a hostile state directory', () => {
  it('XL_STATE_DIR=/tmp is refused, and /tmp keeps its mode', async () => {
    const before = statSync('/tmp').mode;
    const r = await xl({ ...process.env, XL_STATE_DIR: '/tmp' }, 'list');
    expect(r.exitCode).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^xl: refusing state directory \/tmp: it is writable by its group and others \(mode 1777\);/,
    );
    expect(statSync('/tmp').mode).toBe(before);
  });

  it("another user's directory with a planted record: refused before any record is read", async () => {
    const root = tempDir('xl-hostile-');
    const stateDir = path.join(root, 'theirs');
    const victim = await victimProcess();
    const file = path.join(root, 'precious');
    writeFileSync(file, 'keep me');
    mkdirSync(stateDir, { mode: 0o700 });
    await plant(stateDir, 1, victim, [file]);
    chownSync(stateDir, 65534, 65534);
    const r = await xl(process.env, '--state-dir', stateDir, 'list');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/refusing state directory .*theirs: it is owned by uid 65534, not by uid 0/);
    // A group-writable one, and a symlink to a good one, likewise.
    chownSync(stateDir, 0, 0);
    chmodSync(stateDir, 0o770);
    expect((await xl(process.env, '--state-dir', stateDir, 'list')).stderr).toMatch(
      /writable by its group \(mode 0770\)/,
    );
    expect(lstatSync(stateDir).mode & 0o777).toBe(0o770);
    chmodSync(stateDir, 0o700);
    symlinkSync(stateDir, path.join(root, 'link'));
    expect((await xl(process.env, '--state-dir', path.join(root, 'link'), 'list')).stderr).toMatch(
      /link: it is a symbolic link/,
    );
    expect(victim.alive()).toBe(true);
    expect(existsSync(file)).toBe(true);
  });

  it('records in a trusted directory: a pid copied from another process is not killed, files xl cannot prove it made stay', async () => {
    const root = tempDir('xl-hostile-');
    const stateDir = path.join(root, 's');
    const victim = await victimProcess();
    const plain = path.join(root, 'plain');
    writeFileSync(plain, 'keep me');
    // A path xl did create once, but that names another file now (identity recorded, then swapped).
    const swapped = path.join(root, 'swapped');
    writeFileSync(swapped, 'made by xl');
    const made = lstatSync(swapped, { bigint: true });
    writeFileSync(`${swapped}.new`, 'keep me');
    renameSync(`${swapped}.new`, swapped);
    mkdirSync(stateDir, { mode: 0o700 });
    await plant(stateDir, 1, victim, [plain, swapped], {
      createdFiles: [{ path: swapped, dev: String(made.dev), ino: String(made.ino) }],
    });
    // An abandoned save naming the victim's file as its partial file, inode and all.
    const st = lstatSync(plain, { bigint: true });
    await plant(stateDir, 2, victim, [], {
      name: 'saver',
      status: 'saving',
      saving: { partial: { path: plain, dev: String(st.dev), ino: String(st.ino) }, wasRunning: true },
    });
    const r = await xl(process.env, '--state-dir', stateDir, 'list');
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(
        `domain 'bait' \\(id 1\\) is gone: .*left its process alone: pid ${victim.pid} was not started with this domain's pid file`,
      ),
    );
    expect(r.stderr).toContain(`left ${plain}, ${swapped} in place: not proven to be the images xl created`);
    expect(r.stderr).toMatch(/domain 'saver' \(id 2\): the xl save of it .* its QEMU is left alone/);
    await new Promise((r) => setTimeout(r, 200));
    expect(victim.alive()).toBe(true);
    expect(readProcStat(victim.pid)?.startTime).toBe(victim.startTime);
    expect(readFileSync(plain, 'utf8')).toBe('keep me');
    expect(readFileSync(swapped, 'utf8')).toBe('keep me');
    expect(existsSync(path.join(stateDir, 'domains', '1'))).toBe(false);
  });
});
