/**
 * Keeps memory a process freed for its own reuse (glibc's mallopt, through the small native
 * addon's src/malloc-tune.c). xl calls it at start-up: its data paths move GiBs through
 * short-lived buffers (64 KiB socket reads, 1 MiB file reads), and on this project's VMs the
 * first touch of a page is expensive. Measured on `xl restore` of a 1.2 GB save file: minor
 * page faults 86,000 -> 33,000 and the restoring xl's CPU 3.3 -> 1.5 s. Where the addon was not
 * built (no compiler at install, not glibc) nothing changes.
 */
import { addon } from './addon.js';

/** Blocks below this come from the (never trimmed) heap: 32 MiB, glibc's own cap for the threshold on 64-bit. */
export const MMAP_THRESHOLD = 32 * 1024 * 1024;

export type MallocTuning = 'tuned' | 'unavailable' | 'refused';

let outcome: MallocTuning | undefined;

/**
 * 'tuned' when glibc took the settings, 'unavailable' without the addon, 'refused' when mallopt
 * said no. Done once per process; later calls (`xl info`) report that first outcome.
 */
export function keepFreedMemory(): MallocTuning {
  if (outcome !== undefined) return outcome;
  const native = addon();
  outcome =
    native === undefined ? 'unavailable' : native.keepFreedMemory(MMAP_THRESHOLD) ? 'tuned' : 'refused';
  return outcome;
}
