// The guest's RAM-check workload (issue 24): pages written with known patterns, generation
// after generation, each checked in full before it is overwritten. Post-copy tests rely on
// it reporting no mismatch, so here it must pass on a plain guest and must catch one byte
// changed behind the guest's back (its RAM in a shared file the host writes).
import { open } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  RAMCHECK_PAGE_SIZE,
  RAMCHECK_START_LINE,
  bootGuest,
  encodeRamcheckPage,
  findRamcheckPages,
  heartbeats,
  ramcheckLog,
  readSerial,
  sharedRamArgs,
  shmTempDir,
  waitForLine,
  waitForSerial,
  ramcheckWorkload,
  type Guest,
  type RamcheckFail,
  type RamcheckPageAt,
  type WaitOptions,
} from './helpers/index.js';

const MIB = 16;
const PAGES = MIB * 256;

function whileRunning(guest: Guest): WaitOptions {
  return { abortIf: () => (guest.isRunning() ? undefined : `QEMU pid ${guest.pid} exited`) };
}

/** Waits until the log shows `count` passed generations; returns the parsed log. */
function waitForPasses(guest: Guest, count: number, timeoutMs: number) {
  return waitForSerial(
    guest.serialLog,
    (text) => {
      const log = ramcheckLog(text);
      return log.passes.length >= count ? log : undefined;
    },
    timeoutMs,
    `${count} ramcheck passes`,
    whileRunning(guest),
  );
}

describe('guest RAM-check workload (xlkit.ramcheck)', () => {
  it("parses its lines, and the host pattern is the guest's (words the guest printed)", () => {
    expect(encodeRamcheckPage(700, 15).readBigUInt64LE(2000)).toBe(0xeca949d990d4c666n);
    expect(encodeRamcheckPage(3817, 1).readBigUInt64LE(2000)).toBe(0x46f4ac3ff2ff9438n);
    expect(encodeRamcheckPage(3817, 1).subarray(0, 16)).toEqual(
      Buffer.from([0xe9, 0x0e, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
    );
    const log = ramcheckLog(
      'xlkit-ramcheck start 16\r\nxlkit-heartbeat 9\r\nxlkit-ramcheck pass 1 4096\r\n' +
        'xlkit-ramcheck FAIL page 700 gen 15 offset 2000 expected eca949d990d4c666 got eca949d990d4c63c\r\n' +
        'xlkit-ramcheck bad 16 1\r\nxlkit-ramcheck pass 17 40',
    );
    expect(log).toEqual({
      startedMiB: 16,
      passes: [1],
      bad: [[16, 1]],
      fails: [{ page: 700, gen: 15, offset: 2000, expected: 0xeca949d990d4c666n, got: 0xeca949d990d4c63cn }],
    });
  });

  it('passes generation after generation while the heartbeat goes on', async () => {
    const started = Date.now();
    const guest = await bootGuest({ cmdline: ramcheckWorkload(MIB) });
    const start = await waitForLine(guest.serialLog, RAMCHECK_START_LINE, 60_000, whileRunning(guest));
    expect(start[1]).toBe(String(MIB));
    const startedAt = Date.now();
    const two = await waitForPasses(guest, 2, 60_000);
    console.log(
      `ramcheck: start ${startedAt - started} ms after QEMU start, pass 2 after ${Date.now() - startedAt} ms`,
    );
    expect(two.fails).toEqual([]);

    // The heartbeat keeps its pace (5 a second; at least 10 within 6 s) while the workload runs.
    const beatsBefore = heartbeats(await readSerial(guest.serialLog)).length;
    const beatFrom = Date.now();
    await guest.waitForHeartbeats(beatsBefore + 10, 6_000);
    console.log(`ramcheck: 10 heartbeats in ${Date.now() - beatFrom} ms while it runs`);

    const log = ramcheckLog(await readSerial(guest.serialLog));
    expect(log.startedMiB).toBe(MIB);
    expect(log.fails).toEqual([]);
    expect(log.bad).toEqual([]);
    expect(log.passes.length).toBeGreaterThanOrEqual(2);
    // Generations 1, 2, 3, ... each verified, none skipped.
    expect(log.passes).toEqual(log.passes.map((_, i) => i + 1));
    const text = await readSerial(guest.serialLog);
    expect(text).toMatch(new RegExp(`xlkit-ramcheck pass 2 ${PAGES}\\r?\\n`));
    const beats = heartbeats(text);
    beats.forEach((b, i) => i > 0 && expect(b).toBeGreaterThan(beats[i - 1] as number));
  });

  it('reports a page whose byte the host changed in the guest RAM file', async () => {
    const memoryMiB = 256;
    const ramFile = path.join(shmTempDir(), 'ram');
    const guest = await bootGuest({
      memoryMiB,
      cmdline: ramcheckWorkload(MIB),
      extraArgs: sharedRamArgs(ramFile, memoryMiB),
    });
    await waitForPasses(guest, 1, 60_000);

    // Every page of the working set is in the file, and the host's idea of the pattern is the guest's.
    const found = await findRamcheckPages(ramFile, PAGES);
    const indexes = new Set(found.map((p) => p.page));
    expect(indexes.size).toBe(found.length);
    expect(found.length).toBeGreaterThan(PAGES - 16); // a page being rewritten may be missed
    const sample = await readMatchingPage(ramFile, found);
    expect(sample).toBeDefined();

    // Flip bits of one byte in the middle of a page's payload. The guest rewrites every page
    // each cycle (under a second), so a flip can land just before the guest rewrites that very
    // spot and vanish: try again with another page, at most three times.
    const byteOffset = 2000;
    const flipMask = 0x5a;
    const handle = await open(ramFile, 'r+');
    const corrupted: RamcheckPageAt[] = [];
    let fail: RamcheckFail | undefined;
    try {
      for (let attempt = 0; attempt < 3 && fail === undefined; attempt++) {
        const target = found[Math.floor(((attempt + 0.5) * found.length) / 3)] as RamcheckPageAt;
        const header = Buffer.alloc(16);
        await handle.read(header, 0, 16, target.fileOffset);
        expect(Number(header.readBigUInt64LE(0))).toBe(target.page); // RAM pages do not move
        const gen = Number(header.readBigUInt64LE(8));
        const byte = Buffer.alloc(1);
        await handle.read(byte, 0, 1, target.fileOffset + byteOffset);
        byte[0] = (byte[0] as number) ^ flipMask;
        await handle.write(byte, 0, 1, target.fileOffset + byteOffset);
        corrupted.push({ ...target, gen });
        const pages = new Set(corrupted.map((p) => p.page));
        fail = await waitForSerial(
          guest.serialLog,
          (text) => ramcheckLog(text).fails.find((f) => pages.has(f.page)),
          10_000,
          `a FAIL line for page ${[...pages].join(' or ')}`,
          whileRunning(guest),
        ).catch(() => undefined);
      }
    } finally {
      await handle.close();
    }
    if (fail === undefined)
      throw new Error(`no FAIL line after corrupting pages ${corrupted.map((p) => p.page)}`);
    const named = fail.page;
    const target = corrupted.find((p) => p.page === named) as RamcheckPageAt;
    console.log(
      `ramcheck: corrupted ${corrupted.length} page(s); page ${target.page} (gen ${target.gen}) → ${JSON.stringify(fail, bigints)}`,
    );
    expect(fail.offset).toBe(byteOffset);
    // The page held generation target.gen when flipped, or the next one if the guest rewrote it meanwhile.
    expect(fail.gen).toBeGreaterThanOrEqual(target.gen);
    expect(fail.gen).toBeLessThanOrEqual(target.gen + 1);
    expect((fail.expected ^ fail.got).toString(16)).toBe(
      (BigInt(flipMask) << BigInt(8 * (byteOffset % 8))).toString(16),
    );

    // The cycle that found it says so instead of passing; the workload goes on and passes again.
    const failedGen = fail.gen;
    const after = await waitForSerial(
      guest.serialLog,
      (text) => {
        const log = ramcheckLog(text);
        return log.passes.some((g) => g > failedGen + 1) ? log : undefined;
      },
      30_000,
      `a pass after generation ${failedGen + 1}`,
      whileRunning(guest),
    );
    const corruptedPages = corrupted.map((p) => p.page);
    for (const f of after.fails) expect(corruptedPages).toContain(f.page);
    // The FAIL came from cycle failedGen's check or from cycle failedGen+1 (checking failedGen
    // before overwriting it); that cycle prints "bad", not "pass".
    const badCycles = after.bad.map(([cycle]) => cycle);
    expect(badCycles.some((cycle) => cycle === failedGen || cycle === failedGen + 1)).toBe(true);
    for (const cycle of badCycles) expect(after.passes).not.toContain(cycle);
    if (corrupted.length === 1) expect(after.bad.map(([, pages]) => pages)).toEqual([1]);
  });
});

function bigints(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `0x${value.toString(16)}` : value;
}

/**
 * Reads candidate pages until one equals the guest's pattern for its header in all 4096 bytes
 * (the guest may be rewriting the one read); returns it.
 */
async function readMatchingPage(
  ramFile: string,
  found: RamcheckPageAt[],
): Promise<RamcheckPageAt | undefined> {
  const handle = await open(ramFile, 'r');
  try {
    const page = Buffer.alloc(RAMCHECK_PAGE_SIZE);
    for (const candidate of found.slice(0, 8)) {
      await handle.read(page, 0, RAMCHECK_PAGE_SIZE, candidate.fileOffset);
      const index = Number(page.readBigUInt64LE(0));
      const gen = Number(page.readBigUInt64LE(8));
      if (page.equals(encodeRamcheckPage(index, gen))) return { ...candidate, page: index, gen };
    }
    return undefined;
  } finally {
    await handle.close();
  }
}
