/**
 * xend's deprecated target prefixes, which libxlu still reads: `phy:`, `file:`, `aio:`, `tap:`,
 * `tap2:`, `tapdisk:`, `ioemu:` only named a Xen backend and mean nothing to QEMU; `raw:` and
 * `qcow2:` set the format. They chain (`tap:aio:/img`, `tap:qcow2:/img`). Another `word:` in
 * front of a path (xl's `drbd:`, `iscsi:` hotplug scripts) is refused.
 */
import { ConfigError, type SourcePosition } from '../errors.js';

/** The image formats xlkit opens. */
export type DiskFormat = 'raw' | 'qcow2';

const BACKEND_PREFIXES = new Set(['phy', 'file', 'aio', 'tap', 'tap2', 'tapdisk', 'ioemu']);
const FORMAT_PREFIXES: Record<string, DiskFormat> = { raw: 'raw', qcow2: 'qcow2' };
const UNSUPPORTED_FORMATS = new Set(['qcow', 'vhd', 'qed']);

export interface DiskTarget {
  path: string;
  /** Set by a `raw:` or `qcow2:` prefix. */
  format?: DiskFormat;
}

export function stripTargetPrefixes(
  field: { value: string; offset: number } | undefined,
  at: (offset: number) => SourcePosition,
): DiskTarget | undefined {
  if (field === undefined) return undefined;
  let rest = field.value;
  let format: DiskFormat | undefined;
  let phy = false;
  for (;;) {
    const m = /^([a-z0-9]+):/.exec(rest);
    if (!m) break;
    const word = m[1] as string;
    const offset = field.offset + field.value.length - rest.length;
    if (BACKEND_PREFIXES.has(word)) phy ||= word === 'phy';
    else if (FORMAT_PREFIXES[word] !== undefined) {
      if (format !== undefined)
        throw new ConfigError(
          at(offset),
          `disk target has two format prefixes ('${format}:' and '${word}:')`,
        );
      format = FORMAT_PREFIXES[word];
    } else if (UNSUPPORTED_FORMATS.has(word)) {
      throw new ConfigError(
        at(offset),
        `disk format '${word}' (target prefix '${word}:') is not supported: expected raw or qcow2`,
      );
    } else {
      throw new ConfigError(
        at(offset),
        `disk target prefix '${word}:' is not supported (xl's block hotplug scripts are not run): give the device or image path`,
      );
    }
    rest = rest.slice(word.length + 1);
  }
  // xl: a phy target that is not an absolute path names a device under /dev.
  if (phy && rest !== '' && !rest.startsWith('/')) rest = `/dev/${rest}`;
  return format === undefined ? { path: rest } : { path: rest, format };
}
