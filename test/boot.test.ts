import { open } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_SIZE,
  DIRTY_START_LINE,
  DISK_WRITE_START_LINE,
  GUEST_COMMAND,
  DISK_VERIFY_FAIL_LINE,
  DISK_VERIFY_OK_LINE,
  DISK_WRITE_PASS_LINE,
  FILL_DONE_LINE,
  accel,
  bootGuest,
  createDiskImage,
  heartbeats,
  listNetns,
  qmpCommand,
  readSerial,
  sendSerialLine,
  waitForSerial,
  serialLines,
  tempDir,
  verifyDiskImage,
  waitForLine,
  withNetns,
  workload,
} from './helpers/index.js';

function processGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('test guest under real QEMU', () => {
  it('boots to heartbeats, answers QMP query-status, and quits', async () => {
    const chosen = await accel();
    const started = Date.now();
    const guest = await bootGuest({ accel: chosen });
    await guest.waitForHeartbeats(1);
    console.log(`guest (${guest.accel}) first heartbeat ${Date.now() - started} ms after QEMU start`);
    const last = await guest.waitForHeartbeats(3);
    expect(last).toBeGreaterThanOrEqual(3);
    // The guest counts up by one from 1. The kernel's boot messages share the serial port (no
    // `quiet` here) and still come while the first heartbeats do; one landing inside a heartbeat
    // line leaves no heartbeat line at all. So a number may go missing, never come out of order.
    const beats = heartbeats(await readSerial(guest.serialLog));
    expect(beats[0]).toBeLessThanOrEqual(2);
    beats.forEach((b, i) => i > 0 && expect(b).toBeGreaterThan(beats[i - 1] as number));
    const lost = (beats.at(-1) as number) - (beats[0] as number) + 1 - beats.length;
    expect(lost).toBeLessThanOrEqual(1);

    expect(await qmpCommand(guest.qmpSocket, 'query-status')).toMatchObject({
      status: 'running',
      running: true,
    });
    await qmpCommand(guest.qmpSocket, 'quit');
    const exit = await guest.exited;
    expect(exit.exitCode).toBe(0);
    expect(guest.isRunning()).toBe(false);
    expect(processGone(guest.pid)).toBe(true);
  });

  it('writes a disk pattern the host verifier accepts; the guest verifies it and catches corruption', async () => {
    const disk = await createDiskImage(tempDir(), 'vda.raw', 2);
    const writer = await bootGuest({ disks: [disk], cmdline: workload.diskWrite });
    await waitForLine(writer.serialLog, /^xlkit-disk-write pass 2 /, 90_000, {
      abortIf: () => (writer.isRunning() ? undefined : 'QEMU exited'),
    });
    await writer.kill();
    const host = await verifyDiskImage(disk);
    expect(host).toMatchObject({ ok: true, blocks: 512 });
    expect(host.ok && host.newest).toBeGreaterThanOrEqual(2);
    const passes = serialLines(await readSerial(writer.serialLog)).filter((line) =>
      DISK_WRITE_PASS_LINE.test(line),
    );
    expect(passes.length).toBeGreaterThanOrEqual(2);

    const verifier = await bootGuest({ disks: [disk], cmdline: workload.diskVerify });
    const ok = await waitForLine(verifier.serialLog, /^xlkit-disk-verify .+$/, 60_000);
    expect(ok[0]).toMatch(DISK_VERIFY_OK_LINE);
    expect(ok[0]).toBe('xlkit-disk-verify ok 512');
    await verifier.kill();

    const handle = await open(disk, 'r+');
    await handle.write(Buffer.from([0xff, 0x00, 0xff]), 0, 3, 100 * BLOCK_SIZE + 1000);
    await handle.close();
    expect(await verifyDiskImage(disk)).toEqual({
      ok: false,
      blocks: 512,
      block: 100,
      reason: 'bad-checksum',
    });
    const checker = await bootGuest({ disks: [disk], cmdline: workload.diskVerify });
    const fail = await waitForLine(checker.serialLog, /^xlkit-disk-verify .+$/, 60_000);
    expect(fail[0]).toMatch(DISK_VERIFY_FAIL_LINE);
    expect(fail[0]).toBe('xlkit-disk-verify FAIL 100 bad-checksum');
  });

  it('takes "xlkit-disk verify" / "xlkit-disk write" commands on its serial socket at runtime', async () => {
    const disk = await createDiskImage(tempDir(), 'vda.raw', 1);
    const guest = await bootGuest({ disks: [disk], cmdline: workload.diskWrite, serialInput: true });
    await waitForLine(guest.serialLog, /^xlkit-disk-write pass 1 /, 60_000);
    await sendSerialLine(guest.serialSocket!, GUEST_COMMAND.diskVerify);
    const verified = await waitForLine(guest.serialLog, /^xlkit-disk-verify .+$/, 60_000);
    expect(verified[0]).toBe('xlkit-disk-verify ok 256');
    await sendSerialLine(guest.serialSocket!, GUEST_COMMAND.diskWrite);
    await waitForSerial(
      guest.serialLog,
      (text) =>
        serialLines(text).filter((line) => DISK_WRITE_START_LINE.test(line)).length >= 2 ? true : undefined,
      60_000,
      'the writer to restart',
    );
    expect(serialLines(await readSerial(guest.serialLog))).not.toContain('xlkit-disk verify');
  });

  it('runs the RAM fill and dirty workloads alongside the heartbeat', async () => {
    const guest = await bootGuest({
      memoryMiB: 256,
      cmdline: `${workload.fill(32)} ${workload.dirty(8, 16)}`,
    });
    const filled = await waitForLine(guest.serialLog, FILL_DONE_LINE, 60_000);
    expect(filled[1]).toBe('32');
    const dirty = await waitForLine(guest.serialLog, DIRTY_START_LINE, 60_000);
    expect([dirty[1], dirty[2]]).toEqual(['8', '16']);
    const before = heartbeats(await readSerial(guest.serialLog)).length;
    await guest.waitForHeartbeats(before + 3);
  });
});

describe('two network namespaces joined by a veth pair', () => {
  it('reach each other and are gone after remove()', async () => {
    const names = await withNetns(async (pair) => {
      expect(pair.a.ns).not.toBe(pair.b.ns);
      expect(await listNetns()).toEqual(expect.arrayContaining([pair.a.ns, pair.b.ns]));
      const ping = await pair.a.exec(['busybox', 'ping', '-c', '1', '-W', '5', pair.b.address]);
      expect(ping.stdout).toContain('1 packets received');
      const back = await pair.b.exec(['busybox', 'ping', '-c', '1', '-W', '5', pair.a.address]);
      expect(back.exitCode).toBe(0);
      const unreachable = await pair.a.exec(['busybox', 'ping', '-c', '1', '-W', '1', '10.254.254.254'], {
        reject: false,
      });
      expect(unreachable.exitCode).not.toBe(0);
      return [pair.a.ns, pair.b.ns];
    });
    const after = await listNetns();
    for (const name of names) expect(after).not.toContain(name);
  });
});
