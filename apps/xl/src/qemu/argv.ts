/** Turns a DomainConfig into a QEMU argument vector (never a shell string). */
import type { DomainConfig } from '../config/domain-config.js';
import type { DomainPaths } from '../store/domain-paths.js';
import type { DiskSpec } from '../config/disk-spec.js';
import { tapName } from '../config/vif-spec.js';
import { XlError } from '../errors.js';
import { MiB, qemuSize } from './guest-ram.js';

/** What a dry run shows for `-accel` when `auto` has no cached verdict (nothing was probed). */
export const ACCEL_NOT_PROBED = '<auto: not probed in a dry run>';

export interface QemuLaunchOptions {
  /** Start with vCPUs stopped (-S): `xl create -p`, restore and migration targets. */
  paused?: boolean;
  /** Wait for an incoming migration stream, configured later with migrate-incoming. */
  incoming?: 'defer';
  /** Accelerator actually used (config 'auto' is decided by the caller). */
  accel: 'tcg' | 'kvm' | typeof ACCEL_NOT_PROBED;
  /** Fork into the background once ready and write the pid file (default true). */
  daemonize?: boolean;
  /** Disk targets that are block devices on this host (QEMU's host_device driver, not file). */
  blockDevices?: ReadonlySet<string>;
  /** Exact guest RAM in bytes (see guest-ram.ts); default the config's MiB. */
  ramBytes?: number;
  /** The domain's id, naming its taps `vif<domid>.<n>` (default 0, for a dry run). */
  domid?: number;
  /**
   * A concrete machine type (`pc-i440fx-7.2`): what the domain already runs on, for a QEMU
   * taking it over whose `pc` means a newer one. Default: `pc`, this QEMU's newest.
   */
  machine?: string;
  /** memory_backing = "shared": the file QEMU maps the guest's RAM from (store/ram-file.ts). */
  ramFile?: string;
}

/** QEMU option values double commas to keep them literal (paths, names). */
export function escapeOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/**
 * A value spliced into an option string where doubling is not an option (ids, addresses,
 * models: QEMU would take `a,,b` as the literal `a,b`, never what was meant): refused when it
 * holds a comma or '=' (the config schema already refuses these; this is the last line).
 */
export function plainOptValue(value: string, what: string): string {
  if (/[,=\s]/.test(value) || value === '')
    throw new XlError(
      'XL_CONFIG',
      `${what} '${value}' cannot go into a QEMU option (no comma, '=' or space)`,
    );
  return value;
}

/** QMP node name of a disk's format layer (for block jobs, NBD exports, drive-mirror). */
export function diskNodeName(disk: Pick<DiskSpec, 'vdev'>): string {
  return `disk-${plainOptValue(disk.vdev, 'vdev')}`;
}

function diskArgs(disk: DiskSpec, blockDevices: ReadonlySet<string>): string[] {
  const node = diskNodeName(disk);
  const args: string[] = [];
  if (disk.target !== undefined) {
    // cache=none: O_DIRECT on the image, guest flushes still reach the disk (QEMU's cache=none).
    const cache = disk.cache === 'none' ? { cache: { direct: true, 'no-flush': false } } : {};
    const blockdev = {
      driver: disk.format,
      'node-name': node,
      'read-only': disk.readOnly,
      ...cache,
      file: {
        driver: blockDevices.has(disk.target) ? 'host_device' : 'file',
        'node-name': `${node}-file`,
        filename: disk.target,
        'read-only': disk.readOnly,
        ...cache,
      },
      ...(disk.discard === undefined ? {} : { discard: disk.discard ? 'unmap' : 'ignore' }),
    };
    args.push('-blockdev', JSON.stringify(blockdev));
  }
  const drive = disk.target !== undefined ? `,drive=${node}` : '';
  if (disk.bus === 'virtio') {
    args.push('-device', `virtio-blk-pci,id=${plainOptValue(disk.vdev, 'vdev')}${drive}`);
  } else {
    const bus = `ide.${Math.floor(disk.index / 2)}`;
    const kind = disk.cdrom ? 'ide-cd' : 'ide-hd';
    args.push(
      '-device',
      `${kind},id=${plainOptValue(disk.vdev, 'vdev')},bus=${bus},unit=${disk.index % 2}${drive}`,
    );
  }
  return args;
}

/** The display: none, or VNC on the domain's unix socket or the configured address. */
function displayArgs(config: DomainConfig, paths: DomainPaths): string[] {
  if (config.vnc === undefined) return ['-display', 'none', '-vga', 'none'];
  const { display } = config.vnc;
  const host = config.vnc.host === undefined ? undefined : plainOptValue(config.vnc.host, 'vnc host');
  const vnc =
    host === undefined
      ? `unix:${escapeOptValue(paths.vnc)}`
      : display === undefined
        ? `${host}:0,to=99`
        : `${host}:${display}`;
  return ['-display', 'none', '-vga', config.vga ?? 'none', '-vnc', vnc];
}

/** QEMU's -action for xl's on_reboot / on_poweroff / on_crash (config/lifecycle-keys.ts). */
function lifecycleAction(config: DomainConfig): string {
  const reboot = config.onReboot === 'restart' ? 'reset' : 'shutdown';
  const shutdown = config.onPoweroff === 'preserve' ? 'pause' : 'poweroff';
  const panic = config.onCrash === 'preserve' ? 'pause' : 'shutdown';
  return `reboot=${reboot},shutdown=${shutdown},panic=${panic}`;
}

/** The full argv (without the binary) for one domain. */
export function buildQemuArgv(
  config: DomainConfig,
  paths: DomainPaths,
  options: QemuLaunchOptions,
): string[] {
  const a: string[] = ['-name', `guest=${escapeOptValue(config.name)}`];
  if (config.uuid !== undefined) a.push('-uuid', config.uuid);
  a.push('-machine', plainOptValue(options.machine ?? 'pc', 'machine type'), '-accel', options.accel);
  const ram = qemuSize(options.ramBytes ?? config.memory * MiB);
  const smp = config.maxvcpus === undefined ? '' : `,maxcpus=${config.maxvcpus}`;
  a.push('-m', ram, '-smp', `${config.vcpus}${smp}`);
  if (config.memoryBacking === 'shared') {
    if (options.ramFile === undefined) throw new Error('memory_backing = "shared" needs a RAM file path');
    a.push(
      '-object',
      `memory-backend-file,id=ram0,size=${ram},mem-path=${escapeOptValue(options.ramFile)},share=on`,
      '-machine',
      'memory-backend=ram0',
    );
  }
  a.push('-nodefaults', '-no-user-config', ...displayArgs(config, paths), '-monitor', 'none');
  if (config.boot !== undefined) a.push('-boot', `order=${plainOptValue(config.boot, 'boot order')}`);
  if (config.kernel !== undefined) a.push('-kernel', config.kernel);
  if (config.ramdisk !== undefined) a.push('-initrd', config.ramdisk);
  if (config.cmdline !== undefined) a.push('-append', config.cmdline);

  // Virtio disks in vdev order, so xvda is the guest's first virtio disk (/dev/vda).
  const virtio = config.disks.filter((d) => d.bus === 'virtio').sort((x, y) => x.index - y.index);
  const blockDevices = options.blockDevices ?? new Set();
  for (const d of virtio) a.push(...diskArgs(d, blockDevices));
  for (const d of config.disks.filter((d) => d.bus === 'ide')) a.push(...diskArgs(d, blockDevices));

  config.vifs.forEach((vif, i) => {
    // A tap xl created and set up (domain/vif-taps.ts): QEMU only opens it, runs no scripts.
    const netdev =
      vif.type === 'tap'
        ? `tap,id=net${i},ifname=${plainOptValue(tapName(vif, options.domid ?? 0, i), 'vifname')},script=no,downscript=no`
        : `user,id=net${i}`;
    a.push('-netdev', netdev);
    const mac = vif.mac ? `,mac=${plainOptValue(vif.mac, 'mac')}` : '';
    a.push('-device', `${plainOptValue(vif.model, 'vif model')},netdev=net${i},id=vif${i}${mac}`);
  });

  if (config.serial === 'pty') {
    a.push(
      '-chardev',
      `socket,id=serial0,path=${escapeOptValue(paths.console)},server=on,wait=off,logfile=${escapeOptValue(paths.consoleLog)},logappend=on`,
    );
    a.push('-serial', 'chardev:serial0');
  }
  a.push(
    '-chardev',
    `socket,id=qmp,path=${escapeOptValue(paths.qmp)},server=on,wait=off`,
    '-mon',
    'chardev=qmp,mode=control',
  );
  if (options.incoming === 'defer') {
    // A second monitor for post-copy recovery: a vCPU waiting for a page the broken link never
    // brings can hold QEMU's main loop, and then only an out-of-band connection opened before
    // the break still gets `migrate-recover` through (migrate/postcopy-recovery.ts).
    a.push(
      '-chardev',
      `socket,id=recovery,path=${escapeOptValue(paths.recoveryMonitor)},server=on,wait=off`,
      '-mon',
      'chardev=recovery,mode=control',
    );
  }

  a.push('-action', lifecycleAction(config));

  a.push('-pidfile', paths.pid, '-D', paths.qemuLog);
  if (options.daemonize !== false) a.push('-daemonize');
  if (options.paused) a.push('-S');
  if (options.incoming === 'defer') a.push('-incoming', 'defer');
  // Last, as separate words: device_model_args never pass through a shell.
  if (config.deviceModelArgs !== undefined) a.push(...config.deviceModelArgs);
  return a;
}
