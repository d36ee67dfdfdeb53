// End to end: `xl migrate -q` on one host (real QEMU, TCG, the test guest writing its
// checksummed disk pattern all the time): disks mirrored into --target-dir through the
// tunnel and directly, raw and qcow2 together, the refusals, and the faults, each of which
// must leave the source guest running with no block job or NBD node and nothing on the receiver.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import { cleanupAfterEach, ramDumps, verifyDiskImage } from './helpers/index.js';
import {
  continuous,
  onJsonLines,
  records,
  sameHostReceiver,
  startMigrate,
  waitForBeatAbove,
  killReceiverAt,
} from './xl-rig.js';
import {
  bootWriter,
  diskDirectIo,
  guestVerify,
  qPair,
  smallTmpfs,
  sourceBlockState,
  type QHost,
  qHost,
} from './migrate-q-rig.js';

cleanupAfterEach();

const DISK_MB = 64;
const WRITE_MB = 24;

/** The images in a target dir (not the creation markers beside them). */
const images = (dir: string) => readdirSync(dir).filter((n) => !n.endsWith('.xl-target'));

/** The receiver cleaned up itself: checked before any xl command could reap for it. */
async function expectReceiverClean(b: QHost, targetDir: string, keep: string[] = []): Promise<void> {
  expect(records(b.stateDir)).toEqual([]);
  expect(b.watcher.liveQemus()).toEqual([]);
  expect(readdirSync(targetDir).sort()).toEqual(keep);
  const list = await b.xl('list', '--json');
  expect(JSON.parse(list.stdout)).toEqual([]);
}

async function expectSourceIntact(a: QHost, name: string, pid: number, beat: number): Promise<void> {
  expect(isProcessAlive(pid)).toBe(true);
  const [view] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  expect(view).toMatchObject({ name, status: 'running' });
  expect(await sourceBlockState(a, name)).toEqual({ jobs: [], extraNodes: [] });
  const later = await waitForBeatAbove(a, name, beat + 3);
  expect(continuous(later.filter((x) => x > beat))).toBe(true);
}

describe('xl migrate -q on one host (real QEMU)', { timeout: 300_000 }, () => {
  it('mirrors a raw disk the guest keeps writing into --target-dir; the guest verifies it on the destination; RAM identical on both sides', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(a, 'mq1', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    // No cache mode in the config: each host opens its image with O_DIRECT (cache=none).
    expect(await diskDirectIo(a, 'mq1')).toEqual({ 'disk-xvda-file': true });
    const dumps = ramDumps('mq-ram-');
    const r = await startMigrate(a, ['-q', '--target-dir', targetDir, '-s', '', 'mq1', sameHostReceiver(b)], {
      env: dumps.env,
    });
    expect(r.exitCode, String(r.stderr)).toBe(0);
    // Both sides' final RAM (the test-only ram-dump hook), taken while the guest's disk writes went on.
    await dumps.expectIdentical();
    expect(String(r.stderr)).toContain(
      'disk plan: 1 disk(s) mirrored over the migration pipe (tunnel), background copy',
    );
    expect(isProcessAlive(src.pid)).toBe(false);
    const [view] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(view).toMatchObject({ name: 'mq1', status: 'running' });
    const target = path.join(targetDir, path.basename(src.disks[0]!));
    expect(view!.config.disks[0]!.target).toBe(target);
    expect(await diskDirectIo(b, 'mq1')).toEqual({ 'disk-xvda-file': true });

    const beats = await waitForBeatAbove(b, 'mq1', src.beat + 5);
    expect(continuous(beats.filter((x) => x > src.beat))).toBe(true);
    // The guest's own check of everything it wrote, reading the mirrored disk.
    expect(await guestVerify(b, 'mq1')).toMatch(/^xlkit-disk-verify ok \d+$/);
    // Offline: pause, then the target file itself holds a valid pattern in every block.
    expect((await b.xl('pause', 'mq1')).exitCode).toBe(0);
    const v = await verifyDiskImage(target, WRITE_MB);
    expect(v).toMatchObject({ ok: true });
    expect(v.ok && v.newest).toBeGreaterThan(0);
    // Sparse: the guest writes only its first WRITE_MB MiB, on A and (going on after the move) on
    // B, so a target that holds more than that plus slack was filled, not mirrored sparse. (Not
    // against the source's allocation: the guest wrote on into new blocks here after the move.)
    const allocated = (p: string) => statSync(p).blocks * 512;
    expect(allocated(target)).toBeLessThanOrEqual((WRITE_MB + 4) * 1024 * 1024);
    expect(statSync(target).size).toBe(DISK_MB * 1024 * 1024);
  });

  it('post-copy with -q: the disk is mirrored first, then the RAM moves by post-copy; disk and heartbeat check out', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(
      a,
      'mq12',
      [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }],
      WRITE_MB,
      undefined,
      undefined,
      'xlkit.dirty=16 xlkit.dirtymb=32',
    );
    const events: Record<string, unknown>[] = [];
    const child = startMigrate(a, [
      '--json',
      '-q',
      '--target-dir',
      targetDir,
      '--bandwidth',
      '8',
      '--postcopy',
      '--postcopy-after',
      '1',
      '-s',
      '',
      'mq12',
      sameHostReceiver(b),
    ]);
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    // The mirrors finished at the pre-switchover pause, before the guest moved.
    const order = ['disk-plan', 'pre-switchover', 'postcopy-active'].map((n) =>
      events.findIndex((e) => e.event === n),
    );
    expect(order.every((i, k) => i >= 0 && (k === 0 || i > order[k - 1]!))).toBe(true);
    expect(isProcessAlive(src.pid)).toBe(false);
    const beats = await waitForBeatAbove(b, 'mq12', src.beat + 5);
    expect(continuous(beats.filter((x) => x > src.beat))).toBe(true);
    expect(await guestVerify(b, 'mq12')).toMatch(/^xlkit-disk-verify ok \d+$/);
  });

  it('direct transport with two disks, raw and qcow2: both arrive, the qcow2 one byte for byte', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(
      a,
      'mq2',
      [
        { vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB },
        { vdev: 'xvdb', format: 'qcow2', sizeMiB: 32 },
      ],
      WRITE_MB,
      async (paths) => {
        await execa('qemu-io', [
          '-f',
          'qcow2',
          '-c',
          'write -P 0x5a 1M 4M',
          '-c',
          'write -P 0xa5 20M 1M',
          paths[1]!,
        ]);
      },
    );
    const r = await startMigrate(a, [
      '-q',
      '--transport',
      'direct',
      '--target-dir',
      targetDir,
      '-s',
      '',
      'mq2',
      sameHostReceiver(b),
    ]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toContain('2 disk(s) mirrored over a direct NBD connection');
    // Same kernel, network namespace and files: the receiver serves NBD on a unix socket.
    expect(String(r.stderr)).toMatch(
      /disk exports: NBD on the receiver's unix socket \S+nbd\.sock \(the receiver is this host\)/,
    );
    const beats = await waitForBeatAbove(b, 'mq2', src.beat + 5);
    expect(continuous(beats.filter((x) => x > src.beat))).toBe(true);
    expect(await guestVerify(b, 'mq2')).toMatch(/^xlkit-disk-verify ok \d+$/);
    expect((await b.xl('pause', 'mq2')).exitCode).toBe(0);
    const [rawT, qcowT] = src.disks.map((d) => path.join(targetDir, path.basename(d)));
    expect(await verifyDiskImage(rawT!, WRITE_MB)).toMatchObject({ ok: true });
    const cmp = await execa(
      'qemu-img',
      ['compare', '-U', '-f', 'qcow2', '-F', 'qcow2', src.disks[1]!, qcowT!],
      { reject: false },
    );
    expect(cmp.exitCode, cmp.stdout + cmp.stderr).toBe(0);
    const info = JSON.parse((await execa('qemu-img', ['info', '-U', '--output=json', qcowT!])).stdout) as {
      format: string;
      'virtual-size': number;
    };
    expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': 32 * 1024 * 1024 });
    expect(statSync(qcowT!).blocks * 512).toBeLessThan(16 * 1024 * 1024);
  });

  it('refuses to mirror a disk onto itself, and onto an existing target unless --reuse-target, before touching anything', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(a, 'mq3', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    // Without --target-dir the target is the source's own path: outside the receiver's root.
    const outside = await startMigrate(a, ['-q', '-s', '', 'mq3', sameHostReceiver(b)]);
    expect(outside.exitCode).toBe(1);
    expect(String(outside.stderr)).toMatch(/for disk xvda is outside the receiver's target directory/);
    const srcDir = path.dirname(src.disks[0]!);
    const self = await startMigrate(a, ['-q', '--target-dir', srcDir, '-s', '', 'mq3', sameHostReceiver(b)]);
    expect(self.exitCode).toBe(1);
    expect(String(self.stderr)).toMatch(/refusing to mirror disk xvda onto itself/);
    expect(String(self.stderr)).toMatch(/still runs on this host/);
    await expectSourceIntact(a, 'mq3', src.pid, src.beat);
    await expectReceiverClean(b, targetDir);

    const existing = path.join(targetDir, path.basename(src.disks[0]!));
    await writeFile(existing, 'precious');
    const exists = await startMigrate(a, [
      '-q',
      '--target-dir',
      targetDir,
      '-s',
      '',
      'mq3',
      sameHostReceiver(b),
    ]);
    expect(exists.exitCode).toBe(1);
    expect(String(exists.stderr)).toMatch(/already exists on the receiver/);
    await expectSourceIntact(a, 'mq3', src.pid, src.beat);
    await expectReceiverClean(b, targetDir, [path.basename(existing)]);
    expect(statSync(existing).size).toBe(8);

    // --reuse-target reuses only an image xl created: never this one, which the test made.
    await execa('qemu-img', ['create', '-q', '-f', 'raw', existing, `${DISK_MB}M`]);
    const reused = await startMigrate(a, [
      '-q',
      '--reuse-target',
      '--target-dir',
      targetDir,
      '-s',
      '',
      'mq3',
      sameHostReceiver(b),
    ]);
    expect(reused.exitCode).toBe(1);
    expect(String(reused.stderr)).toMatch(/target for disk xvda was not created by xl on the receiver/);
    await expectSourceIntact(a, 'mq3', src.pid, src.beat);
    await expectReceiverClean(b, targetDir, [path.basename(existing)]);
  });

  it('target dir without space (a small tmpfs): refused with the numbers, nothing left', async () => {
    const a = qHost('mq-a-');
    const b = qHost('mq-b-');
    const targetDir = await smallTmpfs(path.join(b.dir, 'tiny'), 16);
    const src = await bootWriter(a, 'mq4', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    const r = await startMigrate(a, ['-q', '--target-dir', targetDir, '-s', '', 'mq4', sameHostReceiver(b)]);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/not enough free space for disk\(s\) xvda in .*need .* free/);
    await expectSourceIntact(a, 'mq4', src.pid, src.beat);
    await expectReceiverClean(b, targetDir);
  });

  it('receiver killed during phase 2: mirrors cancelled, source runs, the reaped receiver leaves no target', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(a, 'mq5', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    const child = startMigrate(
      a,
      ['--json', '-q', '--target-dir', targetDir, '-s', '', 'mq5', sameHostReceiver(b)],
      { env: { XLKIT_FAULT: 'mirror-speed:1048576' } },
    );
    const killed = killReceiverAt(child, b, 'mq5', 'mirror');
    const r = await child;
    expect(killed()).toBe(true);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/failed in mirror/);
    await expectSourceIntact(a, 'mq5', src.pid, src.beat);
    // The receiver died before it could clean up: the next xl command on its host reaps the
    // orphaned incoming domain and the targets it had created.
    expect(images(targetDir)).toHaveLength(1);
    const reaped = await b.xl('list');
    expect(reaped.stderr).toMatch(
      /domain 'mq5--incoming' \(id \d+\) is gone: the xl migrate-receive receiving it \(pid \d+\) went away/,
    );
    await expectReceiverClean(b, targetDir);
  });

  it('receiver killed after creating its targets, before its QEMU started: the next xl there reaps them', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(a, 'mq11', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    const child = startMigrate(a, ['-q', '--target-dir', targetDir, '-s', '', 'mq11', sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'receiver-stall:targets' },
    });
    const incoming = await b.watcher.waitFor(
      (d) => d.name === 'mq11--incoming' && d.ownerPid !== undefined && (d.createdDisks ?? []).length === 1,
    );
    // The image and its creation marker written whole (the proof the reaper goes by, as the
    // record has none yet; the receiver stalls right after writing it).
    const marker = path.join(targetDir, `.${path.basename(src.disks[0]!)}.xl-target`);
    const written = () => existsSync(marker) && readFileSync(marker, 'utf8').endsWith('\n');
    for (let i = 0; !written(); i++) {
      if (i > 600) throw new Error('the receiver never created its target');
      await sleep(20);
    }
    process.kill(incoming.ownerPid!, 'SIGKILL');
    const r = await child;
    expect(r.exitCode).toBe(1);
    await expectSourceIntact(a, 'mq11', src.pid, src.beat);
    expect(images(targetDir)).toHaveLength(1);
    const reaped = await b.xl('list');
    expect(reaped.stderr).toMatch(
      /domain 'mq11--incoming' \(id \d+\) is gone: the xl process creating it \(pid \d+\) went away/,
    );
    await expectReceiverClean(b, targetDir);
  });

  for (const phase of ['mirror', 'ram'] as const) {
    it(`sender interrupted (SIGINT) in ${phase === 'mirror' ? 'phase 2' : 'phase 3'}: source runs, no block job or NBD node, receiver clean`, async () => {
      const { a, b, targetDir } = await qPair('mq');
      const src = await bootWriter(a, 'mq6', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
      const env = phase === 'mirror' ? { XLKIT_FAULT: 'mirror-speed:1048576' } : {};
      const child = startMigrate(
        a,
        ['--json', '-q', '--target-dir', targetDir, '-s', '', 'mq6', sameHostReceiver(b)],
        { env },
      );
      let sent = false;
      onJsonLines(child.stdout!, (ev) => {
        if (sent || ev.event !== 'progress' || ev.phase !== phase || !((ev.bytes as number) > 0)) return;
        sent = true;
        child.kill('SIGINT');
      });
      const r = await child;
      expect(sent).toBe(true);
      expect(r.exitCode).not.toBe(0);
      expect(String(r.stderr)).toMatch(/interrupted/);
      await expectSourceIntact(a, 'mq6', src.pid, src.beat);
      await expectReceiverClean(b, targetDir);
    });
  }

  it('leaves a disk marked shared=yes where it is and mirrors only the local one', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(
      a,
      'mq10',
      [
        { vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB },
        { vdev: 'xvdb', format: 'raw', sizeMiB: 8, shared: true },
      ],
      WRITE_MB,
    );
    const r = await startMigrate(a, ['-q', '--target-dir', targetDir, '-s', '', 'mq10', sameHostReceiver(b)]);
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(String(r.stderr)).toMatch(/xvdb: not copied \(shared\)/);
    const [view] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(view!.config.disks.map((d) => d.target)).toEqual([
      path.join(targetDir, path.basename(src.disks[0]!)),
      src.disks[1],
    ]);
    // The image, and the marker that lets a later --reuse-target prove xl created it.
    const image = path.basename(src.disks[0]!);
    expect(readdirSync(targetDir).sort()).toEqual([`.${image}.xl-target`, image]);
    await waitForBeatAbove(b, 'mq10', src.beat + 3);
  });

  it('sender interrupted after the receiver said ready, before GO: the targets are removed too', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(a, 'mq9', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    const child = startMigrate(
      a,
      ['--json', '-q', '--target-dir', targetDir, '-s', '', 'mq9', sameHostReceiver(b)],
      {
        env: { XLKIT_FAULT: 'sender-stall:before-go' },
      },
    );
    let stalled = false;
    onJsonLines(child.stdout!, (ev) => {
      if (stalled || ev.event !== 'stalled-before-go') return;
      stalled = true;
      child.kill('SIGINT');
    });
    const r = await child;
    expect(stalled).toBe(true);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/failed in switchover: interrupted/);
    await expectSourceIntact(a, 'mq9', src.pid, src.beat);
    await expectReceiverClean(b, targetDir);
  });

  it('NBD connection dropped mid-mirror: the mirror fails, everything is rolled back', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(a, 'mq7', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    const r = await startMigrate(a, ['-q', '--target-dir', targetDir, '-s', '', 'mq7', sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'nbd-drop:4000000,mirror-speed:4194304' },
    });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(/failed in mirror: disk xvda: mirror failed/);
    await expectSourceIntact(a, 'mq7', src.pid, src.beat);
    await expectReceiverClean(b, targetDir);
  });

  it('a mirror that stops converging is reported with its numbers and aborted cleanly', async () => {
    const { a, b, targetDir } = await qPair('mq');
    const src = await bootWriter(a, 'mq8', [{ vdev: 'xvda', format: 'raw', sizeMiB: DISK_MB }], WRITE_MB);
    // Copy slower than the guest writes: remaining bytes stop shrinking.
    const r = await startMigrate(a, ['-q', '--target-dir', targetDir, '-s', '', 'mq8', sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'mirror-speed:65536,mirror-stall-ms:4000' },
    });
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(
      /disk xvda: mirror not converging: [0-9.]+ MiB still to copy, no progress below [0-9.]+ MiB for \d+ s/,
    );
    await expectSourceIntact(a, 'mq8', src.pid, src.beat);
    await expectReceiverClean(b, targetDir);
  });
});
