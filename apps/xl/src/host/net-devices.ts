/**
 * Host network devices for bridged vifs, as Xen's vif-bridge handles them: a persistent tap
 * (`ip tuntap add`) joined to a Linux bridge and up, or handed to a hotplug script with xl's
 * environment. Everything runs with argument arrays; names are checked again here, whatever
 * the caller checked, so no value ever reaches `ip` as an option or a path component.
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { XlError } from '../errors.js';

/** A tap xl created for a domain, as its record keeps it (so only xl's own taps are removed). */
export interface CreatedTap {
  name: string;
  /** The bridge it was attached to (also the script's `bridge`). */
  bridge?: string;
  /** The hotplug script that brought it online, run again with `offline` before removal. */
  script?: string;
  mac?: string;
}

const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const SCRIPT = /^(\/[A-Za-z0-9_.+-]+)+$/;
const TIMEOUT_MS = 30_000;

function checkName(name: string): string {
  if (!IFNAME.test(name)) throw new XlError('XL_NETWORK', `refusing network device name '${name}'`);
  return name;
}

const sysfs = (name: string, leaf = ''): string => `/sys/class/net/${checkName(name)}${leaf}`;

export function netDeviceExists(name: string): boolean {
  return existsSync(sysfs(name));
}

export function isBridge(name: string): boolean {
  return existsSync(sysfs(name, '/bridge'));
}

/** A tun/tap device (the kernel shows tun_flags only for those). */
export function isTap(name: string): boolean {
  return existsSync(sysfs(name, '/tun_flags'));
}

async function ip(args: string[], what: string): Promise<void> {
  const r = await execa('ip', args, { reject: false, stdin: 'ignore', timeout: TIMEOUT_MS });
  if (r.failed) {
    const why =
      String(r.stderr).trim().split('\n').at(-1) ||
      (r.code === 'ENOENT' ? 'ip not found' : `exit status ${String(r.exitCode)}`);
    throw new XlError('XL_NETWORK', `cannot ${what}: ${why}`, { cause: r });
  }
}

/**
 * Creates the tap `name`. Refuses a name in use: `ip tuntap add` would silently reuse an
 * existing persistent tap, which then is not ours to remove.
 */
export async function createTap(name: string): Promise<void> {
  if (netDeviceExists(name))
    throw new XlError('XL_NETWORK', `network device '${name}' already exists on this host`);
  await ip(['tuntap', 'add', 'dev', checkName(name), 'mode', 'tap'], `create tap device '${name}'`);
}

/** Joins the tap to the bridge and brings it up (what vif-bridge does for xl). */
export async function attachTap(name: string, bridge: string): Promise<void> {
  if (!isBridge(bridge))
    throw new XlError('XL_NETWORK', `bridge '${bridge}' does not exist on this host (or is not a bridge)`);
  await ip(
    ['link', 'set', 'dev', checkName(name), 'master', checkName(bridge), 'up'],
    `attach '${name}' to bridge '${bridge}'`,
  );
}

/** The environment Xen's hotplug scripts read (vif-common.sh), without xenstore. */
export function hotplugEnv(tap: CreatedTap, domain: { name: string; id: number }): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    script: tap.script ?? '',
    XENBUS_TYPE: 'vif',
    vif: tap.name,
    bridge: tap.bridge ?? '',
    mac: tap.mac ?? '',
    XLKIT_DOMAIN: domain.name,
    XLKIT_DOMID: String(domain.id),
  };
}

/** Runs the tap's hotplug script with `online` or `offline`, as xl runs vif scripts. */
export async function runHotplugScript(
  tap: CreatedTap,
  action: 'online' | 'offline',
  domain: { name: string; id: number },
): Promise<void> {
  const script = tap.script;
  if (script === undefined) return;
  if (!SCRIPT.test(script)) throw new XlError('XL_NETWORK', `refusing hotplug script path '${script}'`);
  const r = await execa(script, [action], {
    env: hotplugEnv(tap, domain),
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: TIMEOUT_MS,
  });
  if (r.failed) {
    const why =
      String(r.stderr).trim().split('\n').at(-1) ||
      (r.code === 'ENOENT' ? 'no such file' : r.timedOut ? 'timed out' : `exit status ${String(r.exitCode)}`);
    throw new XlError('XL_NETWORK', `vif script ${script} ${action} for '${tap.name}' failed: ${why}`, {
      cause: r,
    });
  }
}

/** Brings a tap xl created online: its script, else attach to its bridge. */
export async function bringTapOnline(tap: CreatedTap, domain: { name: string; id: number }): Promise<void> {
  if (tap.script !== undefined) await runHotplugScript(tap, 'online', domain);
  else if (tap.bridge !== undefined) await attachTap(tap.name, tap.bridge);
}

/**
 * Takes down the taps a domain's record says xl created: the script's `offline` (best effort),
 * then the device, if it still is a tap. Returns what could not be done, one line each.
 */
export async function releaseTaps(
  taps: readonly CreatedTap[],
  domain: { name: string; id: number },
): Promise<string[]> {
  const problems: string[] = [];
  for (const tap of taps) {
    try {
      await runHotplugScript(tap, 'offline', domain);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    try {
      if (isTap(tap.name))
        await ip(['link', 'del', 'dev', checkName(tap.name)], `remove tap device '${tap.name}'`);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
  }
  return problems;
}
