/**
 * `on_poweroff`, `on_reboot`, `on_crash` with xl's values (xl.cfg(5)): destroy, restart,
 * preserve, rename-restart, coredump-destroy, coredump-restart, soft-reset. QEMU acts on them
 * itself (`-action`), with no xl process watching the domain, so only what QEMU can do alone
 * is accepted; the rest is refused with the key's name and why.
 *   reboot:   reset (restart) or shutdown, which then follows the power-off action
 *   poweroff: poweroff (destroy) or pause (preserve); QEMU cannot reset on power-off
 *   crash:    a guest panic pauses (preserve) or shuts down (destroy)
 */
import { ConfigError, type SourcePosition } from '../errors.js';
import { fmt, type Reader } from './cfg-reader.js';
import type { LifecycleAction } from './domain-config.js';

const XL_ACTIONS = [
  'destroy',
  'restart',
  'preserve',
  'rename-restart',
  'coredump-destroy',
  'coredump-restart',
  'soft-reset',
] as const;
type XlAction = (typeof XL_ACTIONS)[number];

export const LIFECYCLE_KEYS = new Set(['on_poweroff', 'on_reboot', 'on_crash']);

export interface Lifecycle {
  onPoweroff: LifecycleAction;
  onReboot: LifecycleAction;
  onCrash: LifecycleAction;
}

function refuse(key: string, value: XlAction, pos: SourcePosition, why: string): never {
  throw new ConfigError(pos, `${key} = "${value}" is not supported: ${why}`);
}

function action(
  r: Reader,
  key: string,
  fallback: LifecycleAction,
  warnings: string[],
): { action: LifecycleAction; pos?: SourcePosition } {
  const value = r.choice(key, XL_ACTIONS);
  if (value === undefined) return { action: fallback };
  const pos = r.get(key)!.pos;
  if (value.startsWith('coredump-'))
    refuse(
      key,
      value,
      pos,
      `xlkit writes no guest core dumps; use "${key === 'on_reboot' ? value.slice(9) : 'destroy'}"`,
    );
  if (value === 'soft-reset')
    refuse(key, value, pos, `soft reset is a Xen hypercall with no QEMU equivalent`);
  if (value === 'destroy' || value === 'preserve') return { action: value, pos };
  // restart or rename-restart
  if (key === 'on_poweroff')
    refuse(
      key,
      value,
      pos,
      `QEMU cannot restart a guest that powered off by itself; use "destroy" or "preserve"`,
    );
  if (key === 'on_crash') {
    // xl restarts what it finds crashed itself (an upgrade that failed after the new QEMU ran);
    // a guest kernel panic never reaches QEMU (no pvpanic device), so it cannot act on one.
    warnings.push(
      `${fmt(pos)}: on_crash = "${value}": xl boots the domain afresh when it finds it crashed itself (an xl upgrade that failed after the new QEMU ran); a guest kernel panic is not seen by QEMU: give the guest panic=N so it reboots (on_reboot)`,
    );
    return { action: 'restart', pos };
  }
  if (value === 'rename-restart')
    warnings.push(`${fmt(pos)}: ${key} = "rename-restart" restarts the domain in place, under its own name`);
  return { action: 'restart', pos };
}

export function readLifecycle(r: Reader, warnings: string[]): Lifecycle {
  const poweroff = action(r, 'on_poweroff', 'destroy', warnings);
  const reboot = action(r, 'on_reboot', 'restart', warnings);
  const crash = action(r, 'on_crash', 'destroy', warnings);
  // A reboot that is not a reset is a shutdown for QEMU, and then takes the power-off action.
  if (reboot.action !== 'restart' && reboot.action !== poweroff.action) {
    throw new ConfigError(
      reboot.pos!,
      `on_reboot = "${reboot.action}" needs on_poweroff = "${reboot.action}" too (QEMU handles a reboot it does not reset as a power-off)`,
    );
  }
  return { onPoweroff: poweroff.action, onReboot: reboot.action, onCrash: crash.action };
}
