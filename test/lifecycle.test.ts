// End to end: the xl binary against real QEMU guests (TCG), each test in a fresh state dir.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { isProcessAlive, withMallocTunables, type DomainView } from '@xlkit/xl';
import {
  consoleBeats,
  diskDirectIo,
  guestConfig,
  lastBeatAbove,
  xlHost,
  type Run,
  type XlHost,
} from './xl-rig.js';
import { heartbeats } from './helpers/index.js';

function newHost(): XlHost & { cfg: (name: string) => Promise<string> } {
  const host = xlHost('xl-e2e-');
  return { ...host, cfg: (name) => guestConfig(host.dir, name) };
}

async function listJson(xl: (...args: string[]) => Promise<Run>, ...doms: string[]): Promise<DomainView[]> {
  const r = await xl('list', '--json', ...doms);
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DomainView[];
}

describe('xl domain lifecycle (real QEMU)', () => {
  it('creates, lists, pauses, unpauses, renames and destroys a domain', async () => {
    const host = newHost();
    const { xl, cfg, stateDir } = host;
    const created = await xl('create', await cfg('life1'));
    expect(created.exitCode, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/Started domain life1 \(id 1\)/);
    expect(created.stderr).toMatch(/Parsing config from .*life1\.cfg/);

    const first = await lastBeatAbove(host, 'life1', 0);

    const table = await xl('list');
    expect(table.exitCode).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^Name\s+ID\s+Mem\s+VCPUs\s+State\s+Time\(s\)$/);
    expect(lines[1]).toMatch(/^life1\s+1\s+128\s+1\s+r-----\s+\d+\.\d$/);

    const [view] = await listJson(xl, 'life1');
    expect(view).toMatchObject({
      id: 1,
      name: 'life1',
      status: 'running',
      statusSource: 'qmp',
      memory: 128,
      vcpus: 1,
    });
    expect(view?.qemu?.version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(view?.paths.qmp).toBe(path.join(stateDir, 'domains', '1', 'qmp.sock'));
    const pid = view!.qemu!.pid;
    expect(isProcessAlive(pid)).toBe(true);
    // QEMU runs with glibc keeping the memory it frees (apps/xl/src/qemu/env.ts). glibc 2.36
    // rewrites the variable in place as it parses it, so each tunable is looked for on its own.
    const environ = readFileSync(`/proc/${pid}/environ`, 'utf8');
    expect(environ).toContain('GLIBC_TUNABLES=');
    for (const tunable of withMallocTunables(process.env).split(':')) expect(environ).toContain(tunable);

    expect((await xl('pause', 'life1')).exitCode).toBe(0);
    expect((await listJson(xl, '1'))[0]).toMatchObject({ status: 'paused', state: '--p---' });
    const atPause = (await consoleBeats(host, 'life1')).at(-1) ?? 0;
    expect(atPause).toBeGreaterThanOrEqual(first);
    await sleep(2_000);
    expect((await consoleBeats(host, 'life1')).at(-1)).toBe(atPause);

    expect((await xl('unpause', '1')).exitCode).toBe(0);
    await lastBeatAbove(host, 'life1', atPause);
    expect((await listJson(xl, 'life1'))[0]).toMatchObject({ status: 'running' });

    expect((await xl('rename', 'life1', 'life2')).exitCode).toBe(0);
    const missing = await xl('pause', 'life1');
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toBe("xl: domain 'life1' does not exist");
    expect((await listJson(xl))[0]).toMatchObject({ id: 1, name: 'life2', status: 'running' });

    expect((await xl('destroy', 'life2')).exitCode).toBe(0);
    expect(isProcessAlive(pid)).toBe(false);
    expect(readdirSync(path.join(stateDir, 'domains'))).toEqual([]);
    expect(await listJson(xl)).toEqual([]);
  });

  it('runs two domains at once, created concurrently, with distinct ids and paths', async () => {
    const host = newHost();
    const { xl, cfg } = host;
    const [a, b] = await Promise.all([xl('create', await cfg('twin-a')), xl('create', await cfg('twin-b'))]);
    expect(a.exitCode, a.stderr).toBe(0);
    expect(b.exitCode, b.stderr).toBe(0);
    const views = await listJson(xl);
    expect(views.map((v) => v.name).sort()).toEqual(['twin-a', 'twin-b']);
    expect(views.map((v) => v.id).sort()).toEqual([1, 2]);
    expect(new Set(views.map((v) => v.paths.qmp)).size).toBe(2);
    await lastBeatAbove(host, 'twin-a', 0);
    await lastBeatAbove(host, 'twin-b', 0);

    const dup = await xl('create', await cfg('twin-a'));
    expect(dup.exitCode).toBe(1);
    expect(dup.stderr).toMatch(/xl: a domain named 'twin-a' already exists/);

    expect((await xl('destroy', 'twin-a')).exitCode).toBe(0);
    expect((await listJson(xl)).map((v) => v.name)).toEqual(['twin-b']);
    const c = await xl('create', await cfg('twin-c'));
    expect(c.stdout).toMatch(/\(id 3\)/);
  });

  it('reports and cleans up a domain whose QEMU was killed behind its back; its logs outlive it, rotated', async () => {
    const host = newHost();
    const { xl, cfg, stateDir } = host;
    // Every command names the log dir (--log-dir, a global option): a temporary one.
    const logDir = path.join(host.dir, 'logs here');
    const xlLogs = (...args: string[]) => xl('--log-dir', logDir, ...args);
    expect((await xlLogs('create', await cfg('victim'))).exitCode).toBe(0);
    const beat = await lastBeatAbove(host, 'victim', 0);
    const [view] = await listJson(xl, 'victim');
    const pid = view!.qemu!.pid;
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && isProcessAlive(pid); i++) await sleep(50);

    const r = await xlLogs('list');
    expect(r.exitCode).toBe(0);
    const qemuLog = path.join(logDir, 'qemu-victim.log');
    const consoleLog = path.join(logDir, 'console-victim.log');
    expect(r.stderr).toContain(`its state was cleaned up; its logs are kept: ${qemuLog}, ${consoleLog}`);
    expect(r.stderr).toMatch(
      /^xl: warning: domain 'victim' \(id 1\) is gone: its QEMU process \(pid \d+\) has exited.*; its state was cleaned up; its logs are kept: /,
    );
    expect(r.stdout).not.toContain('victim');
    expect(readdirSync(path.join(stateDir, 'domains'))).toEqual([]);
    // The post-mortem: what the guest last wrote, and QEMU's own log.
    expect(heartbeats(readFileSync(consoleLog, 'utf8'))).toContain(beat);
    expect(existsSync(qemuLog)).toBe(true);
    const again = await xlLogs('destroy', 'victim');
    expect(again.exitCode).toBe(1);
    expect(again.stderr).toMatch(/does not exist/);

    // A new domain of that name starts fresh logs; the old ones move to .1.
    expect((await xlLogs('create', '-p', await cfg('victim'))).exitCode).toBe(0);
    expect(heartbeats(readFileSync(`${consoleLog}.1`, 'utf8'))).toContain(beat);
    expect(readFileSync(consoleLog, 'utf8')).toBe('');
    expect(readdirSync(logDir).sort()).toEqual([
      'console-victim.log',
      'console-victim.log.1',
      'qemu-victim.log',
      'qemu-victim.log.1',
    ]);
    expect((await xlLogs('destroy', 'victim')).exitCode).toBe(0);
    expect(existsSync(consoleLog)).toBe(true);
  });

  it('shutdown presses the ACPI power button: the guest powers itself off; -w waits and cleans up', async () => {
    const host = newHost();
    const { xl, stateDir } = host;
    // on_poweroff=preserve keeps QEMU (paused) after the guest's power-off, so its console shows why.
    expect(
      (await xl('create', await guestConfig(host.dir, 'keep', { on_poweroff: '"preserve"' }))).exitCode,
    ).toBe(0);
    expect((await xl('create', await guestConfig(host.dir, 'gone'))).exitCode).toBe(0);
    await lastBeatAbove(host, 'keep', 2);
    await lastBeatAbove(host, 'gone', 2);
    const [gone] = await listJson(xl, 'gone');
    const gonePid = gone!.qemu!.pid;

    const sd = await xl('shutdown', 'keep');
    expect(sd.exitCode, sd.stderr).toBe(0);
    let text = '';
    for (let i = 0; i < 100 && !text.includes('xlkit-poweroff'); i++) {
      await sleep(100);
      text = (await xl('console', 'keep')).stdout;
    }
    expect(text).toMatch(/xlkit-power-button watching \d+ device/);
    expect(text).toContain('xlkit-poweroff');
    const beatsAtOff = (await consoleBeats(host, 'keep')).at(-1) ?? 0;
    await sleep(1_000);
    expect((await consoleBeats(host, 'keep')).at(-1)).toBe(beatsAtOff);
    const [kept] = await listJson(xl, 'keep');
    expect(isProcessAlive(kept!.qemu!.pid)).toBe(true);

    const waited = await xl('shutdown', '-w', 'gone');
    expect(waited.exitCode, waited.stderr).toBe(0);
    expect(isProcessAlive(gonePid)).toBe(false);
    expect((await listJson(xl)).map((d) => d.name)).toEqual(['keep']);
    expect((await xl('destroy', 'keep')).exitCode).toBe(0);
    expect(readdirSync(path.join(stateDir, 'domains'))).toEqual([]);
  });

  it('opens a disk image with O_DIRECT unless its spec says cache=writeback', async () => {
    const host = newHost();
    const { xl, cfg, stateDir } = host;
    const images = ['a.raw', 'b.raw'].map((f) => path.join(host.dir, f));
    for (const image of images) await execa('qemu-img', ['create', '-q', '-f', 'raw', image, '16M']);
    const disks = `disk=["${images[0]},raw,xvda,rw", "format=raw, vdev=xvdb, cache=writeback, target=${images[1]}"]`;
    // -n prints the command line a real create runs: the same -m and cache modes, nothing started.
    const dry = await xl('create', '-n', await cfg('cache1'), disks);
    expect(dry.exitCode, dry.stderr).toBe(0);
    const dryArgv = (JSON.parse(dry.stdout) as { qemu: string[] }).qemu;
    expect(existsSync(path.join(stateDir, 'domains', '1'))).toBe(false);
    const created = await xl('create', await cfg('cache1'), disks);
    expect(created.exitCode, created.stderr).toBe(0);
    expect(await diskDirectIo(host, 'cache1')).toEqual({ 'disk-xvda-file': true, 'disk-xvdb-file': false });
    const [record] = JSON.parse((await xl('list', '--json')).stdout) as { qemu?: { argv: string[] } }[];
    const after = (argv: string[], flag: string) => argv.flatMap((x, i) => (x === flag ? [argv[i + 1]] : []));
    for (const flag of ['-m', '-blockdev', '-machine', '-accel'])
      expect(after(dryArgv, flag), flag).toEqual(after(record!.qemu!.argv, flag));
    expect((await xl('destroy', 'cache1')).exitCode).toBe(0);
  });

  it('fails cleanly, starting nothing, for a missing disk', async () => {
    const host = newHost();
    const { xl, cfg, stateDir } = host;
    const r = await xl('create', await cfg('nodisk'), 'disk=["/nonexistent/disk.img,raw,xvda,rw"]');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /xl: argument 1 \(disk=.*\):1:\d+: disk '\/nonexistent\/disk.img' does not exist/,
    );
    expect(
      existsSync(path.join(stateDir, 'domains')) ? readdirSync(path.join(stateDir, 'domains')) : [],
    ).toEqual([]);
  });
});
