/** Which accelerator a domain gets: tcg, kvm, or for 'auto' kvm when /dev/kvm is usable. */
import { accessSync, constants } from 'node:fs';
import type { Accel } from '../config/domain-config.js';

export function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export function chooseAccel(accel: Accel): 'tcg' | 'kvm' {
  if (accel === 'auto') return kvmUsable() ? 'kvm' : 'tcg';
  return accel;
}
