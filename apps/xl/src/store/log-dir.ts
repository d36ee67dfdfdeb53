/**
 * Where xl keeps a domain's logs (QEMU's and its serial console's), which outlive the domain:
 * --log-dir, then XL_LOG_DIR; then /var/log/xl for the system's xl (root with the default
 * state dir /run/xl, as xl's /var/log/xen); else `logs` under the state dir, so each xl
 * instance (a --state-dir or XL_STATE_DIR of its own) keeps its own logs.
 */
import path from 'node:path';

export const SYSTEM_LOG_DIR = '/var/log/xl';

export function resolveLogDir(
  explicit: string | undefined,
  stateRoot: string,
  stateDirChosen: boolean,
  env: NodeJS.ProcessEnv = process.env,
  uid = process.getuid?.() ?? 0,
): string {
  if (explicit !== undefined && explicit !== '') return path.resolve(explicit);
  const fromEnv = env.XL_LOG_DIR;
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  if (uid === 0 && !stateDirChosen) return SYSTEM_LOG_DIR;
  return path.join(stateRoot, 'logs');
}
