import type { Accel } from './accel.js';

export interface DiskSpec {
  path: string;
  /** Image format, default raw. */
  format?: 'raw' | 'qcow2';
  /** Drive id (block node for QMP), default disk<N>. The guest sees them as vda, vdb, ... */
  id?: string;
}

export interface GuestArgsOptions {
  kernel: string;
  initramfs: string;
  accel: Accel;
  qmpSocket: string;
  serialLog: string;
  /**
   * When set, the serial port is a unix socket here (host → guest commands, see
   * sendSerialLine) and its output still goes to serialLog.
   */
  serialSocket?: string;
  memoryMiB?: number;
  disks?: (string | DiskSpec)[];
  /** Extra kernel command-line words (workloads), appended after the console settings. */
  cmdline?: string;
  /** `-incoming` URI (e.g. "defer") for a migration or restore target. */
  incoming?: string;
  extraArgs?: string[];
}

/** Kernel command line every test guest gets: serial console, reboot (= QEMU exit) on panic. */
export const BASE_CMDLINE = 'console=ttyS0 panic=-1';

function checkOptionValue(what: string, value: string): string {
  // QEMU splits option values on commas: a path with one would be misread.
  if (value.includes(',')) throw new Error(`${what} must not contain a comma: ${value}`);
  return value;
}

function serialArgs(o: GuestArgsOptions): string[] {
  const log = checkOptionValue('serial log path', o.serialLog);
  if (o.serialSocket === undefined) return ['-serial', `file:${log}`];
  const socket = checkOptionValue('serial socket path', o.serialSocket);
  return [
    '-chardev',
    `socket,id=serial0,path=${socket},server=on,wait=off,logfile=${log}`,
    '-serial',
    'chardev:serial0',
  ];
}

/** The QEMU argument vector of a test guest (q35, no default devices, no display). */
export function guestQemuArgs(o: GuestArgsOptions): string[] {
  const cmdline = [BASE_CMDLINE, o.cmdline ?? ''].join(' ').trim();
  const args = [
    '-name',
    'xlkit-test-guest',
    '-machine',
    'q35',
    '-accel',
    o.accel,
    '-m',
    String(o.memoryMiB ?? 256),
    '-smp',
    '1',
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    checkOptionValue('kernel path', o.kernel),
    '-initrd',
    checkOptionValue('initramfs path', o.initramfs),
    '-append',
    cmdline,
    ...serialArgs(o),
    '-qmp',
    `unix:${checkOptionValue('QMP socket path', o.qmpSocket)},server=on,wait=off`,
  ];
  (o.disks ?? []).forEach((disk, index) => {
    const spec = typeof disk === 'string' ? { path: disk } : disk;
    const id = spec.id ?? `disk${index}`;
    args.push(
      '-drive',
      `file=${checkOptionValue('disk path', spec.path)},format=${spec.format ?? 'raw'},if=none,id=${id}`,
      '-device',
      `virtio-blk-pci,drive=${id},id=${id}-dev`,
    );
  });
  if (o.incoming !== undefined) args.push('-incoming', o.incoming);
  args.push(...(o.extraArgs ?? []));
  return args;
}
