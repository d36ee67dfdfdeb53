/**
 * The domain configuration xl acts on. Plain JSON data: it is stored with each domain and
 * travels inside save files and migration streams, so it must survive JSON round trips.
 */
import type { DiskSpec } from './disk-spec.js';
import type { VifSpec } from './vif-spec.js';

export type { VifSpec } from './vif-spec.js';

export type Accel = 'tcg' | 'kvm' | 'auto';
export type MemoryBacking = 'anonymous' | 'shared';
export type LifecycleAction = 'destroy' | 'restart' | 'preserve';

/** VNC: on a unix socket in the domain's directory (no host), or on host:5900+display. */
export interface VncSpec {
  /** Listen address (vnclisten); absent: the unix socket `vnc.sock` in the domain's directory. */
  host?: string;
  /** Display number (vncdisplay); absent with a host: the first free one from 0 (vncunused). */
  display?: number;
}

export interface DomainConfig {
  name: string;
  /** Filled in at creation when the file has none. */
  uuid?: string;
  /** MiB. */
  memory: number;
  vcpus: number;
  /** vCPUs the machine could have (maxvcpus, `-smp maxcpus=`); absent: vcpus. */
  maxvcpus?: number;
  kernel?: string;
  ramdisk?: string;
  cmdline?: string;
  disks: DiskSpec[];
  vifs: VifSpec[];
  /** 'pty' captures the first serial port (console log + `xl console`); 'none' has no serial. */
  serial: 'pty' | 'none';
  onPoweroff: LifecycleAction;
  onReboot: LifecycleAction;
  onCrash: LifecycleAction;
  /** QEMU binary (device_model_override); default qemu-system-x86_64 from PATH. */
  deviceModel?: string;
  /** Extra QEMU arguments (device_model_args), appended to xl's as separate words. */
  deviceModelArgs?: string[];
  /** Firmware boot order (boot): c disk, d cdrom, n network, e.g. "cd". */
  boot?: string;
  vnc?: VncSpec;
  /** The display adapter, only with vnc (vga / stdvga). */
  vga?: 'std' | 'cirrus';
  accel: Accel;
  memoryBacking: MemoryBacking;
}

export const DEFAULT_QEMU = 'qemu-system-x86_64';

export const CONFIG_LIMITS = { maxMemoryMiB: 1 << 20, maxVcpus: 255, maxDisks: 26, maxVifs: 8 } as const;

/** Domain names: not all digits (so DOMAIN can be a name or an id), no path or option characters. */
export const NAME_PATTERN = /^(?![0-9]+$)[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Throws a readable message when a name is not acceptable; returns it otherwise. */
export function checkDomainName(name: string): string | undefined {
  if (NAME_PATTERN.test(name)) return undefined;
  return `bad domain name '${name}': expected 1-64 characters from A-Z a-z 0-9 _ . - (not starting with . or -, not all digits)`;
}
