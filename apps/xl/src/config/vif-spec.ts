/**
 * One `vif = [ '...' ]` entry, in xl-network-configuration(5)'s syntax: comma-separated
 * KEY=VALUE pairs, whitespace around them tolerated. A vif is bridged (a tap device xl creates
 * and puts on `bridge`, or hands to `script`) unless it says `type=user` or names neither a
 * bridge nor a script: then QEMU's user-mode networking serves it, as before.
 */
import { ConfigError, type SourcePosition } from '../errors.js';

export interface VifSpec {
  /** 'tap': a host tap device (bridge and/or script); 'user': QEMU user-mode networking. */
  type: 'tap' | 'user';
  /** Guest NIC model (QEMU device): virtio-net-pci unless `model=e1000` etc. */
  model: string;
  /** Unicast, lower case; filled in at creation when absent (see generateMac). */
  mac?: string;
  /** The host bridge the tap joins (type 'tap'). */
  bridge?: string;
  /** The tap's name; default `vif<domid>.<index>` as Xen names it. */
  vifname?: string;
  /** Absolute path of the hotplug script run instead of xl's own bridge attach. */
  script?: string;
}

/** Where relative script names are looked up, as xl does (XEN_SCRIPT_DIR). */
export const XEN_SCRIPT_DIR = '/etc/xen/scripts';

/**
 * Linux interface names (IFNAMSIZ 16 with the NUL): 1-15 characters, and here only letters,
 * digits and `_ . -`, not starting with `-` or `.`, so a name is never read as an option by
 * `ip` and never needs quoting in QEMU's option syntax.
 */
export const IFNAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

/** Unicast MAC addresses, six colon-separated hex pairs. */
export const MAC_PATTERN = /^[0-9a-f][02468ace](:[0-9a-f]{2}){5}$/;

/** Script paths: absolute, no `..`, no characters that need quoting anywhere. */
export const SCRIPT_PATTERN = /^(\/[A-Za-z0-9_.+-]+)+$/;

const MODELS: Record<string, string> = {
  virtio: 'virtio-net-pci',
  'virtio-net': 'virtio-net-pci',
  'virtio-net-pci': 'virtio-net-pci',
  e1000: 'e1000',
  rtl8139: 'rtl8139',
};

/** Keys xl knows that have no meaning here: accepted with a warning naming them. */
const IGNORED: Record<string, string> = {
  ip: 'the guest configures its own address',
  rate: 'no rate limiting',
  gatewaydev: 'no routed networking',
  netdev: 'no routed networking',
  backend: 'the backend is always this host',
  devid: 'vifs are numbered in order',
  mtu: 'the tap keeps the bridge default',
  trusted: 'not applicable',
  untrusted: 'not applicable',
  accel: 'not applicable',
  forwarddev: 'not applicable',
};

/** Why `name` is not a usable interface name, or undefined. */
export function ifnameProblem(name: string): string | undefined {
  if (IFNAME_PATTERN.test(name)) return undefined;
  return `expected 1-15 characters from A-Z a-z 0-9 _ . - (not starting with . or -), got '${name}'`;
}

/** Resolves a vif `script=` value: absolute paths as given, bare names under XEN_SCRIPT_DIR. */
export function resolveScript(value: string): string | undefined {
  // Xen's default script: its job is what xl does itself for a bridge.
  if (value === 'vif-bridge') return undefined;
  return value.startsWith('/') ? value : `${XEN_SCRIPT_DIR}/${value}`;
}

/** Parses one vif entry; `warnings` collects notes about keys accepted but ignored. */
export function parseVifSpec(spec: string, pos: SourcePosition, warnings: string[] = []): VifSpec {
  const bad = (key: string, value: string, expected: string): never => {
    throw new ConfigError(pos, `vif ${key}: bad value '${value}': expected ${expected}`);
  };
  const seen = new Set<string>();
  let type: string | undefined;
  let model = 'virtio-net-pci';
  const vif: Omit<VifSpec, 'type' | 'model'> = {};
  for (const part of spec.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new ConfigError(pos, `vif parameter '${part}': expected KEY=VALUE`);
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (seen.has(key)) throw new ConfigError(pos, `vif ${key}: given twice`);
    seen.add(key);
    switch (key) {
      case 'mac': {
        const mac = value.toLowerCase();
        if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac))
          bad(key, value, 'six hex pairs like 00:16:3e:01:02:03');
        if (!MAC_PATTERN.test(mac)) bad(key, value, 'a unicast address (even first byte)');
        vif.mac = mac;
        break;
      }
      case 'model':
        model = MODELS[value] ?? bad(key, value, 'virtio, e1000 or rtl8139');
        break;
      case 'bridge':
      case 'vifname': {
        const problem = ifnameProblem(value);
        if (problem) throw new ConfigError(pos, `vif ${key}: bad interface name: ${problem}`);
        vif[key] = value;
        break;
      }
      case 'script': {
        if (value === '') bad(key, value, 'a script name or absolute path');
        const script = resolveScript(value);
        if (script !== undefined && (!SCRIPT_PATTERN.test(script) || script.split('/').includes('..')))
          bad(key, value, 'a path of letters, digits and _ . + - (no ..)');
        if (script !== undefined) vif.script = script;
        break;
      }
      case 'type':
        // xl's ioemu/vif both mean "a NIC for the guest" here; user is xlkit's user-mode NAT.
        if (!['ioemu', 'vif', 'user'].includes(value)) bad(key, value, 'ioemu, vif or user');
        type = value;
        break;
      default: {
        const why = IGNORED[key];
        if (why === undefined)
          throw new ConfigError(
            pos,
            `unknown vif parameter '${key}': expected mac, bridge, model, script, vifname, type or ${Object.keys(IGNORED).join(', ')}`,
          );
        warnings.push(`${pos.file}:${pos.line}:${pos.column}: vif parameter '${key}' ignored (${why})`);
      }
    }
  }
  if (type === 'user') {
    for (const key of ['bridge', 'script', 'vifname'] as const)
      if (vif[key] !== undefined)
        throw new ConfigError(
          pos,
          `vif ${key}: not possible with type=user (user-mode networking has no tap)`,
        );
    return { type: 'user', model, ...vif };
  }
  if (vif.bridge === undefined && vif.script === undefined) {
    if (vif.vifname !== undefined)
      throw new ConfigError(pos, `vif vifname: needs a bridge or a script to attach the tap to`);
    return { type: 'user', model, ...vif };
  }
  return { type: 'tap', model, ...vif };
}

/** A MAC with Xen's OUI 00:16:3e and three random bytes, as xl makes one. */
export function generateMac(random: (n: number) => Uint8Array): string {
  const tail = [...random(3)].map((b) => b.toString(16).padStart(2, '0'));
  return ['00', '16', '3e', ...tail].join(':');
}

/** The vifs with a MAC each: missing ones generated (they then travel with the config). */
export function withMacs<T extends { mac?: string }>(vifs: T[], random: (n: number) => Uint8Array): T[] {
  return vifs.map((v) => (v.mac === undefined ? { ...v, mac: generateMac(random) } : v));
}

/** The tap device name of vif `index` of domain `domid`: its vifname, else Xen's `vif<domid>.<index>`. */
export function tapName(vif: Pick<VifSpec, 'vifname'>, domid: number, index: number): string {
  return vif.vifname ?? `vif${domid}.${index}`;
}
