import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monorepo root (this file lives in test/helpers/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface GuestArtifacts {
  /** Folder holding the build (.cache/guest/ unless XLKIT_GUEST_DIR is set). */
  dir: string;
  kernel: string;
  initramfs: string;
}

/** Paths of the test guest built by tools/build-guest; throws when it has not been built. */
export function guestArtifacts(): GuestArtifacts {
  const dir = process.env['XLKIT_GUEST_DIR'] ?? path.join(repoRoot, '.cache', 'guest');
  const kernel = path.join(dir, 'vmlinuz');
  const initramfs = path.join(dir, 'initramfs.cpio.gz');
  const missing = [kernel, initramfs].filter((file) => !existsSync(file));
  if (missing.length > 0) {
    throw new Error(
      `test guest missing (${missing.join(', ')}): run tools/setup (or tools/build-guest) first`,
    );
  }
  return { dir, kernel, initramfs };
}
