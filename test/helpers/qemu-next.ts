import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths.js';

/**
 * The second QEMU `tools/setup` unpacks into .cache/qemu-next/ for `xl upgrade`: QEMU 10.0
 * from bookworm-backports, or (where backports could not be reached) a copy of the system
 * binary, which the suites then say loudly.
 */
export interface NextQemu {
  binary: string;
  /** "QEMU emulator version 10.0.2 (...)" */
  version: string;
  /** A copy of the system's QEMU stands in. */
  fallback: boolean;
}

let warned = false;

export function nextQemu(): NextQemu {
  const dir = path.join(repoRoot, '.cache', 'qemu-next');
  const binary = path.join(dir, 'root', 'usr', 'bin', 'qemu-system-x86_64');
  if (!existsSync(binary)) throw new Error(`no ${binary}: run tools/setup`);
  const fallback = existsSync(path.join(dir, 'FALLBACK'));
  const version = readFileSync(path.join(dir, 'VERSION'), 'utf8').trim();
  if (fallback && !warned) {
    warned = true;
    console.warn(
      `WARNING: bookworm-backports was unreachable at setup; xl upgrade is tested against a copy of the system QEMU (${version}), not QEMU 10.0`,
    );
  }
  return { binary, version, fallback };
}
