// A save that outlasts every fixed QMP timeout: xl save of a 4 GiB guest (3 GiB of it random)
// to a file system throttled to 40 MB/s. QEMU answers no QMP command while its migration's
// final stage holds its lock, which on such a sink lasts as long as the remaining RAM takes
// to drain; the save must wait for it, not fail. Minutes long: `npm run test:slow`.
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { colourStats, renderSvg } from '@xlkit/xl';
import { throttledDisk, waitForLine } from '../helpers/index.js';
import { domainDir, guestConfig, XL, xlHost } from '../xl-rig.js';

const MEMORY_MIB = 4096;
const FILL_MIB = 3072;
const RATE = 40e6;

describe('xl save to a throttled file system (slow)', () => {
  it('a 4 GiB guest saves at 40 MB/s and restores with its digest checked', async () => {
    const h = xlHost('xl-slow-');
    const disk = await throttledDisk(h.dir, { sizeBytes: 8 * 1024 ** 3, writeBytesPerSecond: RATE });
    const cfg = await guestConfig(h.dir, 'big', {
      memory: MEMORY_MIB,
      extra: `"console=ttyS0 quiet xlkit.fill=${FILL_MIB}"`,
    });
    expect((await h.xl('create', cfg)).exitCode).toBe(0);
    await waitForLine(path.join(domainDir(h, 'big'), 'console.log'), /xlkit-fill done/, 50 * 60_000);

    const file = path.join(disk.mount, 'big.save');
    const chart = path.join(h.dir, 'big-save.svg');
    const xl = (...args: string[]) =>
      execa('node', [XL, '--state-dir', h.stateDir, ...args], { reject: false, timeout: 40 * 60_000 });
    const saved = await xl('save', '--json', '--timeline', chart, 'big', file);
    expect(saved.exitCode, saved.stderr).toBe(0);
    const summary = JSON.parse(saved.stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, number>;
    expect(summary).toMatchObject({ event: 'summary', result: 'ok', domainState: 'destroyed' });
    const bytes = (await stat(file)).size;
    expect(bytes).toBeGreaterThan(FILL_MIB * 1024 * 1024);
    // The throttle held: the file could not have been written (and synced) faster than it allows.
    expect(summary.seconds).toBeGreaterThan((bytes / RATE) * 0.8);
    expect(colourStats(await renderSvg(await readFile(chart, 'utf8'))).colours).toBeGreaterThan(10);

    const restored = await xl('restore', '-p', file);
    expect(restored.exitCode, restored.stderr).toBe(0);
    expect((await h.xl('destroy', 'big')).exitCode).toBe(0);
    await disk.close();
  });
});
