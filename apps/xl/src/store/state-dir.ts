/** Where xl keeps domain state: --state-dir, then XL_STATE_DIR, then /run/xl (root) or $XDG_RUNTIME_DIR/xl. */
import path from 'node:path';
import { XlError } from '../errors.js';

export function resolveStateDir(
  explicit: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  uid = process.getuid?.() ?? 0,
): string {
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  const fromEnv = env.XL_STATE_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  if (uid === 0) return '/run/xl';
  const runtime = env.XDG_RUNTIME_DIR;
  if (runtime === undefined || runtime === '') {
    throw new XlError(
      'XL_STATE',
      'no state directory: XDG_RUNTIME_DIR is not set; use --state-dir DIR or XL_STATE_DIR',
    );
  }
  return path.join(runtime, 'xl');
}
