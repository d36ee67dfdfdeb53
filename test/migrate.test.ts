// End to end: xl migrate to this same host through `-s ''` (real QEMU, TCG), and the refusals:
// each must leave the source guest running with its heartbeat uninterrupted and nothing left on
// the receiving side. The faults (killed peers, a cut or corrupted pipe, ...) are the fault
// matrix's (test/faults).
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { guestRamBytes, isProcessAlive, parseVersion, qemuSize, type DomainView } from '@xlkit/xl';
import {
  continuous,
  guestConfig,
  onJsonLines,
  records,
  sameHostReceiver,
  startMigrate,
  waitForBeatAbove,
  xlHost,
} from './xl-rig.js';
import { cleanupAfterEach, ramDumps } from './helpers/index.js';
import { bootSource, expectReceiverClean, expectSourceIntact } from './migrate-checks.js';

cleanupAfterEach();

const argAfter = (argv: string[], flag: string): string | undefined => argv[argv.indexOf(flag) + 1];

function oneLine(stderr: string): string {
  const lines = stderr.split('\n').filter((l) => l.startsWith('xl: '));
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('xl migrate on one host (real QEMU)', () => {
  it('moves a running guest: heartbeat continues, source gone, one domain with the original name, RAM identical on both sides', async () => {
    const a = xlHost('mig-a-');
    const b = xlHost('mig-b-');
    // The guest dirties RAM throughout; both sides dump it at their last moment (the test-only ram-dump hook).
    const { pid, beat } = await bootSource(a, 'mig1', {
      extra: '"console=ttyS0 quiet xlkit.dirty=16 xlkit.dirtymb=32"',
    });
    const source = records(a.stateDir)[0]!;
    const sourceId = source.id;
    // The guest's RAM has the 8 KiB tail exactly when this QEMU under TCG needs it (qemu/guest-ram.ts).
    const ramBytes = guestRamBytes(
      128,
      'tcg',
      parseVersion(`QEMU emulator version ${source.qemu!.version!}`),
    );
    const ramArg = qemuSize(ramBytes);
    expect(argAfter(source.qemu!.argv, '-m')).toBe(ramArg);
    const dumps = ramDumps('mig-ram-');
    const events: Record<string, unknown>[] = [];
    const child = startMigrate(a, ['--json', '-s', '', 'mig1', sameHostReceiver(b)], { env: dumps.env });
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const ram = await dumps.expectIdentical();
    expect(ram.sizes).toEqual([ramBytes, ramBytes]); // all of it, the tail's pages too

    expect(isProcessAlive(pid)).toBe(false);
    expect(existsSync(path.join(a.stateDir, 'domains', String(sourceId)))).toBe(false);
    expect(JSON.parse((await a.xl('list', '--json')).stdout)).toEqual([]);
    const views = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(views).toHaveLength(1);
    expect(views[0]).toMatchObject({ name: 'mig1', status: 'running' });
    expect(argAfter(records(b.stateDir)[0]!.qemu!.argv, '-m')).toBe(ramArg);

    const beats = await waitForBeatAbove(b, 'mig1', beat + 5);
    expect(beats[0]).toBeGreaterThan(beat);
    expect(continuous(beats)).toBe(true);

    expect(events.filter((e) => e.event === 'phase').map((e) => e.phase)).toEqual([
      'handshake',
      'bootstrap',
      'ram',
      'switchover',
      'cleanup',
    ]);
    expect(events.find((e) => e.event === 'negotiated')).toMatchObject({
      version: 1,
      features: expect.arrayContaining(['ram-stream', 'ram-credit']),
    });
    expect(
      events.some((e) => e.event === 'progress' && e.phase === 'ram' && typeof e.bytes === 'number'),
    ).toBe(true);
    const summary = events.find((e) => e.event === 'summary');
    expect(summary).toMatchObject({ result: 'ok', domain: 'mig1', operation: 'migrate' });
    expect(Object.keys(summary!.phases as object)).toEqual([
      'handshake',
      'bootstrap',
      'ram',
      'switchover',
      'cleanup',
    ]);
    expect(summary!.ramBytes as number).toBeGreaterThan(1 << 20);
    // QEMU's downtime ends when the source has sent everything; the guest's pause goes on until the
    // receiver has loaded the rest and resumed it, so it is never shorter.
    const downtimeMs = summary!.downtimeMs as number;
    expect(downtimeMs).toBeGreaterThan(0);
    expect(summary!.pausedMs as number).toBeGreaterThanOrEqual(downtimeMs - 2);
    expect(String(r.stderr)).toContain("migration receiver: domain 'mig1' (id 1) is running on this host");
  });

  it("direct transport: QEMU to QEMU over the receiver's unix socket, RAM identical on both sides", async () => {
    const a = xlHost('mig-a-');
    const b = xlHost('mig-b-');
    const { pid, beat } = await bootSource(a, 'mig8', {
      extra: '"console=ttyS0 quiet xlkit.dirty=16 xlkit.dirtymb=32"',
    });
    const dumps = ramDumps('mig-ram-');
    const events: Record<string, unknown>[] = [];
    const child = startMigrate(
      a,
      ['--json', '--transport', 'direct', '-s', '', 'mig8', sameHostReceiver(b)],
      {
        env: dumps.env,
      },
    );
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    await dumps.expectIdentical();
    expect(events.find((e) => e.event === 'negotiated')?.features).toContain('direct-ram');
    // Same host (no ssh): the receiver's QEMU listened on a unix socket in its domain's dir.
    const endpoint = events.find((e) => e.event === 'ram-endpoint');
    expect(endpoint).toMatchObject({ transport: 'unix' });
    expect(String(endpoint!.path).startsWith(b.stateDir)).toBe(true);
    // No RAM crossed the pipe: the summary counts no chunks.
    expect(events.at(-1)).toMatchObject({ result: 'ok', chunks: 0 });
    expect(isProcessAlive(pid)).toBe(false);
    const beats = await waitForBeatAbove(b, 'mig8', beat + 5);
    expect(beats[0]).toBeGreaterThan(beat);
    expect(continuous(beats)).toBe(true);
  });

  it('direct transport to a receiver without it (an older xlkit): refused at the handshake, nothing started', async () => {
    const a = xlHost('mig-a-');
    const b = xlHost('mig-b-');
    const { pid, beat } = await bootSource(a, 'mig9');
    const r = await startMigrate(a, ['--transport', 'direct', '-s', '', 'mig9', sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'receiver-lacks:direct-ram' },
    });
    expect(r.exitCode).toBe(1);
    expect(oneLine(String(r.stderr))).toMatch(
      /^xl: migration to .* failed in handshake: refusing to migrate: the receiver lacks required feature\(s\) 'direct-ram'; the domain 'mig9' still runs on this host$/,
    );
    await expectReceiverClean(b);
    await expectSourceIntact(a, 'mig9', pid, beat);
  });

  it('a receiver without ram-credit (an older xlkit): RAM is paced by its reading instead, the guest moves all the same', async () => {
    const a = xlHost('mig-a-');
    const b = xlHost('mig-b-');
    const { pid, beat } = await bootSource(a, 'mig7');
    const events: Record<string, unknown>[] = [];
    const child = startMigrate(a, ['--json', '-s', '', 'mig7', sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'receiver-lacks:ram-credit' },
    });
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    const negotiated = events.find((e) => e.event === 'negotiated');
    expect(negotiated?.features).toContain('ram-stream');
    expect(negotiated?.features).not.toContain('ram-credit');
    expect(isProcessAlive(pid)).toBe(false);
    const beats = await waitForBeatAbove(b, 'mig7', beat + 5);
    expect(beats[0]).toBeGreaterThan(beat);
    expect(continuous(beats)).toBe(true);
  });

  it('receiver refusing the config (memory too big): refused before anything is started there', async () => {
    const a = xlHost('mig-a-');
    const b = xlHost('mig-b-');
    const { pid, beat } = await bootSource(a, 'mig2');
    const big = await guestConfig(a.dir, 'mig2', { memory: 1 << 20 });
    const r = await startMigrate(a, ['-C', big, '-s', '', 'mig2', sameHostReceiver(b)]);
    expect(r.exitCode).toBe(1);
    const line = oneLine(String(r.stderr));
    expect(line).toMatch(
      /^xl: migration to .* failed in bootstrap: the receiver failed \(phase 1\): domain 'mig2' needs 1048576 MiB of memory, more than this host can give now; the domain 'mig2' still runs on this host$/,
    );
    expect(b.watcher.qemus.size).toBe(0);
    await expectReceiverClean(b);
    await expectSourceIntact(a, 'mig2', pid, beat);
  });
});
