/**
 * This host as a migration peer names it: its host name (os.hostname(), sent only when it is
 * made of DNS-like characters, as the peer checks) and its kernel's boot id (equal boot ids on
 * both ends mean one host: one kernel).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { HOSTNAME } from '@xlkit/stream';

export interface HostIdentity {
  hostname?: string;
  bootId?: string;
}

const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

let cached: HostIdentity | undefined;

export function ownHostIdentity(): HostIdentity {
  if (cached !== undefined) return cached;
  const hostname = os.hostname();
  let bootId = '';
  try {
    bootId = readFileSync(BOOT_ID_FILE, 'utf8').trim();
  } catch {
    // No /proc: the peer cannot tell whether it is this host.
  }
  cached = {
    ...(HOSTNAME.test(hostname) ? { hostname } : {}),
    ...(/^[0-9a-f-]{1,64}$/.test(bootId) ? { bootId } : {}),
  };
  return cached;
}

/**
 * Where a migrated domain runs, in words: "this host (NAME)" when the peer shares this
 * kernel, its NAME otherwise (with how it was reached, when that differs), and without a name
 * (an older xl) the HOST argument, or "the receiver's host" when HOST is a command (-s '').
 */
export function describePeerHost(
  peer: HostIdentity | undefined,
  reachedAs: { host: string; hostIsCommand: boolean },
  own: HostIdentity = ownHostIdentity(),
): string {
  const name = peer?.hostname;
  const via = reachedAs.hostIsCommand || reachedAs.host === name ? [] : [`reached as ${reachedAs.host}`];
  if (peer?.bootId !== undefined && peer.bootId === own.bootId) {
    const about = [...(name === undefined ? [] : [name]), ...via];
    return about.length === 0 ? 'this host' : `this host (${about.join(', ')})`;
  }
  if (name === undefined) return reachedAs.hostIsCommand ? "the receiver's host" : reachedAs.host;
  return via.length === 0 ? name : `${name} (${via[0]!})`;
}
