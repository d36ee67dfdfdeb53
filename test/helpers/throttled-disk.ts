/**
 * A slow file system for tests: an ext4 on a loop device whose writes the kernel throttles.
 * The throttle is cgroup v1's blkio.throttle.write_bps_device on the root group (it applies to
 * every writer, the kernel's writeback included); the device's writeback cache is capped
 * (bdi max_bytes + strict_limit) so a writer is held to that rate at once instead of filling
 * gigabytes of page cache first. Everything is undone by close(), also registered with the
 * cleanup registry. Requires root, a loop device and the v1 blkio controller; says which is
 * missing otherwise.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { execa } from 'execa';
import { track } from './cleanup-registry.js';

const BLKIO = '/sys/fs/cgroup/blkio/blkio.throttle.write_bps_device';

export interface ThrottledDisk {
  /** Where the file system is mounted. */
  mount: string;
  device: string;
  close(): Promise<void>;
}

export async function throttledDisk(
  dir: string,
  o: { sizeBytes: number; writeBytesPerSecond: number; dirtyBytes?: number },
): Promise<ThrottledDisk> {
  if (!existsSync(BLKIO))
    throw new Error(`cannot throttle a device here: ${BLKIO} is missing (no cgroup v1 blkio controller)`);
  const image = path.join(dir, 'slow.img');
  const mount = path.join(dir, 'slow');
  await mkdir(mount, { recursive: true });
  const fh = await open(image, 'w');
  await fh.truncate(o.sizeBytes);
  await fh.close();
  const device = (await execa('losetup', ['--find', '--show', image])).stdout.trim();
  const majMin = (await execa('lsblk', ['-dno', 'MAJ:MIN', device])).stdout.trim();
  const bdi = `/sys/class/bdi/${majMin}`;
  let mounted = false;
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await writeFile(BLKIO, `${majMin} 0`).catch(() => undefined);
    if (mounted)
      await execa('umount', [mount]).catch(() => execa('umount', ['-l', mount]).catch(() => undefined));
    await execa('losetup', ['-d', device]).catch(() => undefined);
    await rm(image, { force: true });
  };
  const closeSync = (): void => {
    if (closed) return;
    closed = true;
    const quiet = (f: () => void) => {
      try {
        f();
      } catch {
        // Keep undoing the rest.
      }
    };
    quiet(() => writeFileSync(BLKIO, `${majMin} 0`));
    if (mounted) quiet(() => execFileSync('umount', ['-l', mount]));
    quiet(() => execFileSync('losetup', ['-d', device]));
    rmSync(image, { force: true });
  };
  track({ label: `throttled disk ${device}`, run: close, runSync: closeSync });
  try {
    await execa('mkfs.ext4', ['-q', '-E', 'nodiscard,lazy_itable_init=1', device]);
    await execa('mount', [device, mount]);
    mounted = true;
    await writeFile(BLKIO, `${majMin} ${Math.round(o.writeBytesPerSecond)}`);
    if (existsSync(`${bdi}/max_bytes`))
      await writeFile(`${bdi}/max_bytes`, String(o.dirtyBytes ?? 16 * 1024 * 1024));
    if (existsSync(`${bdi}/strict_limit`)) await writeFile(`${bdi}/strict_limit`, '1');
    return { mount, device, close };
  } catch (err) {
    await close();
    throw err;
  }
}
