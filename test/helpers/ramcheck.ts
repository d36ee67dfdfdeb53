/**
 * The guest's RAM-check workload (`xlkit.ramcheck=<MiB>`, tools/guest/README.md): its console
 * lines, its page pattern (the same as ram_write_page in tools/guest/xlkit-guest.c, byte for
 * byte), and finding its pages in a file holding the guest's RAM.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { track } from './cleanup-registry.js';
import { serialLines } from './console-lines.js';

export const RAMCHECK_PAGE_SIZE = 4096;
export const RAMCHECK_START_LINE = /^xlkit-ramcheck start (\d+)$/;
export const RAMCHECK_PASS_LINE = /^xlkit-ramcheck pass (\d+) (\d+)$/;
export const RAMCHECK_BAD_LINE = /^xlkit-ramcheck bad (\d+) (\d+)$/;
export const RAMCHECK_FAIL_LINE =
  /^xlkit-ramcheck FAIL page (\d+) gen (\d+) offset (\d+) expected ([0-9a-f]{16}) got ([0-9a-f]{16})$/;

/** Kernel command-line words for the workload: `<MiB>` checked, written at `<MiB/s>` (guest default 32). */
export function ramcheckWorkload(mib: number, mibPerSecond?: number): string {
  return mibPerSecond === undefined
    ? `xlkit.ramcheck=${mib}`
    : `xlkit.ramcheck=${mib} xlkit.ramcheckrate=${mibPerSecond}`;
}

export interface RamcheckFail {
  page: number;
  /** The generation the page should have held. */
  gen: number;
  /** First differing byte in the page. */
  offset: number;
  /** The aligned 64-bit word holding that byte, as the guest expected it and as it read it. */
  expected: bigint;
  got: bigint;
}

export interface RamcheckLog {
  /** The `<MiB>` of the start line, undefined before it. */
  startedMiB?: number;
  /** Generations that passed, in order. */
  passes: number[];
  /** Cycles that found bad pages: [generation, bad pages]. */
  bad: [number, number][];
  fails: RamcheckFail[];
}

/** Every ramcheck line in a serial log, parsed. */
export function ramcheckLog(text: string): RamcheckLog {
  const log: RamcheckLog = { passes: [], bad: [], fails: [] };
  for (const line of serialLines(text)) {
    let m = RAMCHECK_START_LINE.exec(line);
    if (m) log.startedMiB = Number(m[1]);
    m = RAMCHECK_PASS_LINE.exec(line);
    if (m) log.passes.push(Number(m[1]));
    m = RAMCHECK_BAD_LINE.exec(line);
    if (m) log.bad.push([Number(m[1]), Number(m[2])]);
    m = RAMCHECK_FAIL_LINE.exec(line);
    if (m) {
      log.fails.push({
        page: Number(m[1]),
        gen: Number(m[2]),
        offset: Number(m[3]),
        expected: BigInt(`0x${m[4]}`),
        got: BigInt(`0x${m[5]}`),
      });
    }
  }
  return log;
}

const MASK64 = (1n << 64n) - 1n;

function mix64(z: bigint): bigint {
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

function xorshift64(x: bigint): bigint {
  x ^= (x << 13n) & MASK64;
  x ^= x >> 7n;
  x ^= (x << 17n) & MASK64;
  return x;
}

function ramSeed(page: bigint, gen: bigint): bigint {
  const s = mix64((page * 0x9e3779b97f4a7c15n + mix64(gen)) & MASK64);
  return s === 0n ? 1n : s;
}

/** The first payload word (bytes 16..23) of page `page`, generation `gen`. */
function firstPayloadWord(page: bigint, gen: bigint): bigint {
  return xorshift64(ramSeed(page, gen));
}

/** Page `page` of generation `gen` as the guest writes it. */
export function encodeRamcheckPage(page: number, gen: number): Buffer {
  const buf = Buffer.alloc(RAMCHECK_PAGE_SIZE);
  let x = ramSeed(BigInt(page), BigInt(gen));
  buf.writeBigUInt64LE(BigInt(page), 0);
  buf.writeBigUInt64LE(BigInt(gen), 8);
  for (let off = 16; off < RAMCHECK_PAGE_SIZE; off += 8) {
    x = xorshift64(x);
    buf.writeBigUInt64LE(x, off);
  }
  return buf;
}

export interface RamcheckPageAt {
  /** Byte offset of the page in the RAM file (its guest-physical address while RAM fits below the PCI hole). */
  fileOffset: number;
  page: number;
  gen: number;
}

/**
 * Finds the workload's pages in a file holding the guest's RAM (e.g. a shared
 * memory-backend-file): page-aligned 4 KiB whose header (index, generation >= 1) and first
 * payload word match the pattern. The guest keeps rewriting them, so a page may have moved
 * on a generation (or be half written) by the time the caller reads it again.
 */
export async function findRamcheckPages(ramFile: string, maxPage: number): Promise<RamcheckPageAt[]> {
  const found: RamcheckPageAt[] = [];
  const handle = await open(ramFile, 'r');
  try {
    const chunk = Buffer.alloc(1 << 20);
    for (let pos = 0; ; pos += chunk.length) {
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, pos);
      for (let p = 0; p + RAMCHECK_PAGE_SIZE <= bytesRead; p += RAMCHECK_PAGE_SIZE) {
        const page = chunk.readBigUInt64LE(p);
        const gen = chunk.readBigUInt64LE(p + 8);
        if (gen === 0n || gen > 0xffffffffn || page >= BigInt(maxPage)) continue;
        if (chunk.readBigUInt64LE(p + 16) !== firstPayloadWord(page, gen)) continue;
        found.push({ fileOffset: pos + p, page: Number(page), gen: Number(gen) });
      }
      if (bytesRead < chunk.length) break;
    }
  } finally {
    await handle.close();
  }
  return found;
}

/** QEMU arguments putting the guest's RAM in a shared file the host can read and write. */
export function sharedRamArgs(file: string, memoryMiB: number): string[] {
  if (file.includes(',')) throw new Error(`RAM file path must not contain a comma: ${file}`);
  return [
    '-object',
    `memory-backend-file,id=ram0,size=${memoryMiB}M,mem-path=${file},share=on`,
    '-machine',
    'memory-backend=ram0',
  ];
}

/** A fresh dir in /dev/shm (RAM-backed; the temp dir when there is none), removed when the test ends. */
export function shmTempDir(prefix = 'xlkit-ram-'): string {
  const base = existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const dir = mkdtempSync(path.join(base, prefix));
  track({
    label: `dir ${dir}`,
    run: () => rm(dir, { recursive: true, force: true }),
    runSync: () => rmSync(dir, { recursive: true, force: true }),
  });
  return dir;
}
