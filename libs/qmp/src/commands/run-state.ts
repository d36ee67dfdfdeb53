import type { ExecuteOptions, QmpClient } from '../qmp-client.js';
import type { QmpVersion } from '../types.js';

/** RunState values QEMU 7.2 reports in `query-status`. */
export type RunState =
  | 'debug'
  | 'inmigrate'
  | 'internal-error'
  | 'io-error'
  | 'paused'
  | 'postmigrate'
  | 'prelaunch'
  | 'finish-migrate'
  | 'restore-vm'
  | 'running'
  | 'save-vm'
  | 'shutdown'
  | 'suspended'
  | 'watchdog'
  | 'guest-panicked'
  | 'colo';

export interface StatusInfo {
  status: RunState;
  running: boolean;
  singlestep?: boolean;
}

/** `stop`: pause all vCPUs (emits STOP). */
export async function stop(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('stop', undefined, opts);
}

/** `cont`: resume the guest (emits RESUME). */
export async function cont(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('cont', undefined, opts);
}

/** `query-status`. */
export function queryStatus(c: QmpClient, opts?: ExecuteOptions): Promise<StatusInfo> {
  return c.execute<StatusInfo>('query-status', undefined, opts);
}

/** `system_powerdown`: ACPI power button (needs a guest that listens). */
export async function systemPowerdown(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('system_powerdown', undefined, opts);
}

/** `quit`: QEMU exits right after replying; the connection then closes. */
export async function quit(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('quit', undefined, opts);
}

/** `query-version`. */
export function queryVersion(c: QmpClient, opts?: ExecuteOptions): Promise<QmpVersion> {
  return c.execute<QmpVersion>('query-version', undefined, opts);
}

/** `human-monitor-command`: run an HMP line (e.g. `qemu-io disk0 "write -P 0x5a 0 1M"`); returns its output. */
export function humanMonitorCommand(
  c: QmpClient,
  args: { 'command-line': string; 'cpu-index'?: number },
  opts?: ExecuteOptions,
): Promise<string> {
  return c.execute<string>('human-monitor-command', args, opts);
}
