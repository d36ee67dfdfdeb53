import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { track } from './cleanup-registry.js';

/** A fresh temp dir, removed when the current test ends (or at afterAll cleanupAll / exit). */
export function tempDir(prefix = 'xlkit-test-'): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  track({
    label: `dir ${dir}`,
    run: () => rm(dir, { recursive: true, force: true }),
    runSync: () => rmSync(dir, { recursive: true, force: true }),
  });
  return dir;
}
