// End to end: xl save / xl restore against real QEMU guests (TCG), each test in a fresh state dir.
import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { colourStats, renderSvg, type DomainView } from '@xlkit/xl';
import { readStream, type StreamRecord } from '@xlkit/stream';
import { qmpCommand, track } from './helpers/index.js';
import { consoleBeats, guestConfig, lastBeatAbove, XL, xlHost, type XlHost } from './xl-rig.js';

/** QEMU processes whose command line mentions this state dir (recorded or not). */
function qemusUnder(stateDir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.startsWith('qemu-system') && cmd.includes(stateDir)) pids.push(Number(entry));
    } catch {
      // Exited meanwhile.
    }
  }
  return pids;
}

/** Any QEMU under this state dir the rig did not see recorded (e.g. its xl was killed first). */
function killUnrecorded(stateDir: string): void {
  for (const pid of qemusUnder(stateDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}

interface Host extends XlHost {
  cfg: (name: string, extra?: string) => Promise<string>;
  domains: () => string[];
}

function newHost(): Host {
  const host = xlHost('xl-save-');
  const { stateDir } = host;
  track({
    label: `unrecorded QEMUs of ${stateDir}`,
    run: async () => killUnrecorded(stateDir),
    runSync: () => killUnrecorded(stateDir),
  });
  return {
    ...host,
    cfg: (name, extra = '') => guestConfig(host.dir, name, { extra: `"console=ttyS0 quiet ${extra}"` }),
    domains: () =>
      existsSync(path.join(stateDir, 'domains')) ? readdirSync(path.join(stateDir, 'domains')) : [],
  };
}

async function view(h: Host, dom: string): Promise<DomainView> {
  const r = await h.xl('list', '--json', dom);
  expect(r.exitCode, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as DomainView[])[0]!;
}

const sha256 = async (file: string) =>
  createHash('sha256')
    .update(await readFile(file))
    .digest('hex');

async function records(file: string): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  const { createReadStream } = await import('node:fs');
  for await (const rec of readStream(createReadStream(file))) out.push(rec);
  return out;
}

/** A booted, heartbeating guest saved to a file; the domain is destroyed by the save. */
async function savedGuest(h: Host, name: string): Promise<{ file: string; lastBeat: number }> {
  expect((await h.xl('create', await h.cfg(name))).exitCode).toBe(0);
  const lastBeat = await lastBeatAbove(h, name, 3);
  const file = path.join(h.dir, `${name}.save`);
  const r = await h.xl('save', name, file);
  expect(r.exitCode, r.stderr).toBe(0);
  return { file, lastBeat };
}

describe('xl save / xl restore (real QEMU)', () => {
  it('round trip: the heartbeat counter continues, the file has the expected records, and a restored domain saves again', async () => {
    const h = newHost();
    expect((await h.xl('create', await h.cfg('rt'))).exitCode).toBe(0);
    const before = await view(h, 'rt');
    const beforeSave = await lastBeatAbove(h, 'rt', 5);
    const file = path.join(h.dir, 'rt.save');

    const saveChart = path.join(h.dir, 'rt-save.svg');
    const saved = await h.xl('save', '--json', '--timeline', saveChart, 'rt', file);
    expect(saved.exitCode, saved.stderr).toBe(0);
    const events = saved.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const summary = events.at(-1)!;
    expect(summary).toMatchObject({
      event: 'summary',
      operation: 'save',
      result: 'ok',
      domain: 'rt',
      domainState: 'destroyed',
      bytes: statSync(file).size,
    });
    expect(summary.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(events.filter((e) => e.event === 'phase').map((e) => e.phase)).toEqual(['header', 'ram', 'sync']);
    expect(h.domains()).toEqual([]);
    expect(readdirSync(h.dir).filter((n) => n.includes('xlkit-partial'))).toEqual([]);

    // The record sequence, decoded (every check of the reader applied).
    const recs = await records(file);
    const names = recs.map((r) => r.name);
    expect(names.slice(0, 4)).toEqual(['PHASE', 'DOMAIN_INFO', 'PHASE', 'RAM_CHUNK']);
    expect(names.slice(-2)).toEqual(['RAM_END', 'END']);
    expect(new Set(names.slice(3, -2))).toEqual(new Set(['RAM_CHUNK']));
    const info = recs[1]!;
    expect(info.name === 'DOMAIN_INFO' && info.value).toMatchObject({
      machine: expect.stringMatching(/^pc-i440fx-/),
      accel: 'tcg',
      memoryMiB: 128,
      vcpus: 1,
      disks: [],
    });
    const ramEnd = recs.at(-2)!;
    expect(ramEnd.name === 'RAM_END' && ramEnd.value.digest.toString('hex')).toBe(summary.digest);
    const dump = await h.xl('stream-dump', file);
    expect(dump.exitCode, dump.stderr).toBe(0);
    expect(dump.stdout).toMatch(
      /PHASE[\s\S]*DOMAIN_INFO[\s\S]*PHASE[\s\S]*RAM_CHUNK[\s\S]*RAM_END[\s\S]*END/,
    );

    // --timeline: a chart of the save (its phases and the guest's pause), rendered by a real renderer.
    const saveSvg = await readFile(saveChart, 'utf8');
    expect(saveSvg).toMatch(/xl save rt: .* in [\d.]+ s/);
    for (const label of ['header', 'ram', 'sync', 'guest paused (then destroyed)'])
      expect(saveSvg).toContain(label);
    const savePx = colourStats(await renderSvg(saveSvg));
    expect(savePx.colours).toBeGreaterThan(10);
    expect(savePx.inked).toBeGreaterThan(0.05);

    const restoreChart = path.join(h.dir, 'rt-restore.svg');
    const restored = await h.xl('restore', '--timeline', restoreChart, file);
    expect(restored.exitCode, restored.stderr).toBe(0);
    const restoreSvg = await readFile(restoreChart, 'utf8');
    for (const label of ['verify-headers', 'start-qemu', 'ram']) expect(restoreSvg).toContain(label);
    expect(colourStats(await renderSvg(restoreSvg)).colours).toBeGreaterThan(10);
    expect(restored.stdout).toMatch(/^Restored domain rt \(id 2\) from .*rt\.save: .*; running$/);
    const after = await view(h, 'rt');
    expect(after).toMatchObject({ id: 2, name: 'rt', uuid: before.uuid, status: 'running' });
    // The counter lives in guest RAM: after restore it goes on from where it was, not from 1.
    const resumed = await lastBeatAbove(h, 'rt', beforeSave);
    const newLog = await consoleBeats(h, 'rt');
    expect(newLog[0]).toBeGreaterThanOrEqual(beforeSave);
    expect(newLog).not.toContain(1);
    expect(resumed).toBeGreaterThan(beforeSave);

    // A restored domain is a normal domain: save -c (keeps running), then save again.
    const again = path.join(h.dir, 'rt2.save');
    const c = await h.xl('save', '-c', 'rt', again);
    expect(c.exitCode, c.stderr).toBe(0);
    expect(c.stdout).toMatch(/domain rt \(id 2\) is running/);
    await lastBeatAbove(h, 'rt', resumed + 2);
    // save -p leaves it paused (QEMU's postmigrate), and a paused domain saves again.
    const paused = await h.xl('save', '-p', 'rt', again);
    expect(paused.exitCode, paused.stderr).toBe(0);
    expect(await view(h, 'rt')).toMatchObject({ id: 2, status: 'postmigrate' });
    const twice = await h.xl('save', 'rt', again);
    expect(twice.exitCode, twice.stderr).toBe(0);
    expect(h.domains()).toEqual([]);
    const third = await h.xl('restore', '-p', again);
    expect(third.exitCode, third.stderr).toBe(0);
    expect(await view(h, 'rt')).toMatchObject({ id: 3, status: 'paused', uuid: before.uuid });
  });

  it('RAM fidelity: guest memory dumped before save equals the dump after restore -p', async () => {
    const h = newHost();
    expect((await h.xl('create', await h.cfg('mem'))).exitCode).toBe(0);
    await lastBeatAbove(h, 'mem', 3);
    expect((await h.xl('pause', 'mem')).exitCode).toBe(0);
    // All of the guest's RAM, the TCG RAM tail included (QEMU's own figure).
    const ramSize = async (id: number) =>
      (
        (await qmpCommand(
          path.join(h.stateDir, 'domains', String(id), 'qmp.sock'),
          'query-memory-size-summary',
        )) as { 'base-memory': number }
      )['base-memory'];
    const size = await ramSize(1);
    expect(size).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    const dumpBefore = path.join(h.dir, 'before.mem');
    const dumpAfter = path.join(h.dir, 'after.mem');
    await qmpCommand(
      path.join(h.stateDir, 'domains', '1', 'qmp.sock'),
      'pmemsave',
      { val: 0, size, filename: dumpBefore },
      60_000,
    );
    const file = path.join(h.dir, 'mem.save');
    const saved = await h.xl('save', 'mem', file);
    expect(saved.exitCode, saved.stderr).toBe(0);
    const restored = await h.xl('restore', '-p', file);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/; paused$/);
    expect(await view(h, 'mem')).toMatchObject({ id: 2, status: 'paused' });
    // Restored with exactly the saved guest's RAM (DOMAIN_INFO's memoryBytes when it has a tail).
    expect(await ramSize(2)).toBe(size);
    await qmpCommand(
      path.join(h.stateDir, 'domains', '2', 'qmp.sock'),
      'pmemsave',
      { val: 0, size, filename: dumpAfter },
      60_000,
    );
    expect((await stat(dumpBefore)).size).toBe(size);
    expect(await sha256(dumpAfter)).toBe(await sha256(dumpBefore));
  });

  it('refuses corrupted, truncated or digest-altered files with the byte offset, leaving no QEMU and no state', async () => {
    const h = newHost();
    const { file } = await savedGuest(h, 'bad');
    const good = await readFile(file);
    const recs = await records(file);
    const chunk = recs.find((r) => r.name === 'RAM_CHUNK' && r.offset > 0)!;
    const ramEnd = recs.find((r) => r.name === 'RAM_END')!;
    const endRec = recs.at(-1)!;

    const variants: { label: string; bytes: Buffer; message: RegExp }[] = [];
    const flipped = Buffer.from(good);
    const flipAt = chunk.offset + 8 + 24 + 1000;
    flipped[flipAt] = flipped[flipAt]! ^ 0x01;
    variants.push({
      label: 'flipped byte in a RAM chunk',
      bytes: flipped,
      message: /at byte \d+.*RAM chunk crc32 mismatch|RAM chunk crc32 mismatch.*at byte \d+/,
    });
    const digest = Buffer.from(good);
    const digestAt = ramEnd.offset + 8 + 24;
    digest[digestAt] = digest[digestAt]! ^ 0xff;
    variants.push({
      label: 'altered digest',
      bytes: digest,
      message: /at byte \d+.*RAM stream digest mismatch|RAM stream digest mismatch.*at byte \d+/,
    });
    for (const cut of [30, 200, chunk.offset + 4096, Math.floor(good.length / 2), endRec.offset]) {
      variants.push({
        label: `truncated at ${cut}`,
        bytes: good.subarray(0, cut),
        message: /truncated|input ends|ends before|ends without|ends inside/,
      });
    }

    for (const v of variants) {
      const bad = path.join(h.dir, 'variant.save');
      await writeFile(bad, v.bytes);
      const before = await sha256(bad);
      const r = await h.xl('restore', bad);
      expect(r.exitCode, `${v.label}: ${r.stdout}`).toBe(1);
      expect(r.stderr, v.label).toMatch(/^xl: cannot restore from .*variant\.save: /);
      expect(r.stderr, v.label).toMatch(v.message);
      expect(r.stderr.trim().split('\n'), v.label).toHaveLength(1);
      expect(h.domains(), v.label).toEqual([]);
      expect(qemusUnder(h.stateDir), v.label).toEqual([]);
      expect(await sha256(bad), v.label).toBe(before);
    }
    const truncated = await h.xl('restore', path.join(h.dir, 'variant.save'));
    expect(truncated.stderr).toMatch(/at byte \d+/);

    // The untouched file still restores.
    const ok = await h.xl('restore', '-p', file);
    expect(ok.exitCode, ok.stderr).toBe(0);
  });

  it('refuses before starting QEMU when the config cannot host the saved domain', async () => {
    const h = newHost();
    const { file } = await savedGuest(h, 'fit');
    const big = await h.cfg('fit');
    await writeFile(big, `${await readFile(big, 'utf8')}memory = 256\nvcpus = 2\n`);
    const r = await h.xl('restore', big, file);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      /cannot restore domain 'fit' on this host: memory is 128 MiB in the stream but 256 MiB in the config; vcpus is 1 in the stream but 2 in the config/,
    );
    expect(h.domains()).toEqual([]);
    expect(qemusUnder(h.stateDir)).toEqual([]);
  });

  it('refuses to restore onto a disk whose size differs from the saved one', async () => {
    const h = newHost();
    const disk = path.join(h.dir, 'sz.raw');
    await execa('qemu-img', ['create', '-q', '-f', 'raw', disk, '16M']);
    const cfg = await h.cfg('sz');
    await writeFile(cfg, `${await readFile(cfg, 'utf8')}disk = [ "${disk},raw,xvda,rw" ]\n`);
    expect((await h.xl('create', cfg)).exitCode).toBe(0);
    await lastBeatAbove(h, 'sz', 2);
    const file = path.join(h.dir, 'sz.save');
    const saved = await h.xl('save', 'sz', file);
    expect(saved.exitCode, saved.stderr).toBe(0);
    await execa('qemu-img', ['resize', '-q', '-f', 'raw', disk, '32M']);
    const r = await h.xl('restore', file);
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/disk xvda: size is 16777216 bytes in the stream but 33554432 bytes here/);
    expect(h.domains()).toEqual([]);
    expect(qemusUnder(h.stateDir)).toEqual([]);
  });

  it('an interrupted save leaves no FILE and the domain running', async () => {
    const h = newHost();
    expect((await h.xl('create', await h.cfg('int'))).exitCode).toBe(0);
    await lastBeatAbove(h, 'int', 3);
    const file = path.join(h.dir, 'int.save');
    const partial = () => readdirSync(h.dir).filter((n) => n.startsWith('.int.save.xlkit-partial-'));
    // 2 MiB/s: tens of seconds for the whole stream, so the signal lands midway.
    const child = execa('node', [XL, '--state-dir', h.stateDir, 'save', '--bandwidth', '2', 'int', file], {
      reject: false,
      stdin: 'ignore',
    });
    for (let i = 0; ; i++) {
      const p = partial();
      if (p.length === 1 && statSync(path.join(h.dir, p[0]!)).size > 3 * 1024 * 1024) break;
      if (i > 600) throw new Error('the save never wrote 3 MiB');
      await sleep(50);
    }
    child.kill('SIGINT');
    const r = await child;
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(
      /xl: saving domain 'int' failed: interrupted; .*int\.save was not written; domain 'int' is running again/,
    );
    expect(existsSync(file)).toBe(false);
    expect(partial()).toEqual([]);
    const v = await view(h, 'int');
    expect(v).toMatchObject({ id: 1, status: 'running' });
    const last = (await consoleBeats(h, 'int')).at(-1)!;
    await lastBeatAbove(h, 'int', last);

    // Killed outright: FILE never appears, and the next xl command finishes the rollback
    // (partial file removed, domain running again).
    const killed = execa('node', [XL, '--state-dir', h.stateDir, 'save', '--bandwidth', '2', 'int', file], {
      reject: false,
      stdin: 'ignore',
    });
    for (
      let i = 0;
      partial().length === 0 || statSync(path.join(h.dir, partial()[0]!)).size < 1024 * 1024;
      i++
    ) {
      if (i > 600) throw new Error('the second save never started');
      await sleep(50);
    }
    killed.kill('SIGKILL');
    await killed;
    expect(existsSync(file)).toBe(false);
    expect(partial()).toHaveLength(1);
    const listed = await h.xl('list');
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stderr).toMatch(
      /domain 'int' \(id 1\): the xl save of it \(pid \d+\) went away; partial file removed, domain running again/,
    );
    expect(partial()).toEqual([]);
    expect(await view(h, 'int')).toMatchObject({ id: 1, status: 'running' });
    const lastAfterKill = (await consoleBeats(h, 'int')).at(-1)!;
    await lastBeatAbove(h, 'int', lastAfterKill);
  });
});
