/**
 * xl disk specifications (xl-disk-configuration(5), as libxlu parses them): the positional form
 * `target,format,vdev,access`, the keyed form `format=qcow2, vdev=xvda, access=rw, target=PATH`
 * (target= must come last: it swallows the rest of the string, commas included), bare flags
 * (`cdrom`, `discard`, `no-discard`, ...), and xend's deprecated forms: `[prefix:]target,vdev[:devtype],access`
 * with target prefixes (`phy:`, `file:`, `tap:aio:`, `tap:qcow2:`, `aio:`, `raw:`, `qcow2:`, ...).
 * xlkit adds `shared=yes`: the image is on storage the migration destination sees too, so
 * `xl migrate -q` does not copy it (libvirt's <shareable/>); and `cache=none|writeback`: QEMU
 * opens the image with O_DIRECT, or through the host's page cache. Without it each host picks
 * none where the image's file system takes O_DIRECT (qemu/disk-cache.ts).
 */
import { ConfigError, type SourcePosition } from '../errors.js';
import { stripTargetPrefixes, type DiskFormat } from './disk-target.js';

export type { DiskFormat };
export type DiskBus = 'virtio' | 'ide';
/** QEMU's cache modes xl offers: none = O_DIRECT (cache.direct=on), writeback = the host's page cache. */
export type DiskCache = 'none' | 'writeback';

export interface DiskSpec {
  /** Host path of the image (absent only for an empty cdrom). */
  target?: string;
  format: DiskFormat;
  /** Guest device name as written (xvda, vdb, hdc), without a `:cdrom` suffix. */
  vdev: string;
  /** Bus chosen from the vdev prefix: xvdX/vdX are virtio-blk, hdX are IDE. */
  bus: DiskBus;
  /** Position on its bus: a=0, b=1, ..., z=25, aa=26. */
  index: number;
  readOnly: boolean;
  cdrom: boolean;
  /** On storage every host sees: never mirrored by `migrate -q`. */
  shared?: boolean;
  /** Set by the config; absent: chosen per host when QEMU starts. */
  cache?: DiskCache;
  /** `discard` (guest TRIM reaches the image) or `no-discard`; absent: QEMU's default (ignore). */
  discard?: boolean;
}

const POSITIONAL = ['target', 'format', 'vdev', 'access'] as const;
const KNOWN_KEYS = new Set([
  'target',
  'format',
  'vdev',
  'access',
  'devtype',
  'shared',
  'cache',
  'backendtype',
  'backend',
  'script',
]);
/** Bare keywords (never positional): xl's flags. */
const FLAGS = new Set(['cdrom', 'discard', 'no-discard', 'direct-io-safe', 'trusted', 'untrusted']);
const FORMATS = new Set(['raw', 'qcow2', 'qcow', 'vhd', 'qed', '']);
const VDEV = /^(xvd|vd|hd)([a-z]{1,2})(?::(cdrom|disk))?$/;
/** Xen PV partition vdevs (xvda2): recognised to be refused with a reason. */
const PARTITION = /^(xvd|vd|hd|sd)[a-z]{1,2}[0-9]+$/;
const IDE_MAX = 4;

function vdevIndex(letters: string): number {
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

interface Field {
  value: string;
  offset: number;
}

/** Splits a spec into named fields and flags, assigning positionals in xl's order. */
function splitSpec(
  spec: string,
  at: (offset: number) => SourcePosition,
): { fields: Partial<Record<string, Field>>; flags: Map<string, number> } {
  const fields: Partial<Record<string, Field>> = {};
  const flags = new Map<string, number>();
  let positional = 0;
  let offset = 0;
  const set = (name: string, field: Field): void => {
    if (fields[name]) throw new ConfigError(at(field.offset), `disk spec sets '${name}' twice`);
    fields[name] = field;
  };
  while (offset <= spec.length) {
    const rest = spec.slice(offset);
    const lead = rest.length - rest.trimStart().length;
    if (rest.trimStart().startsWith('target=')) {
      set('target', { value: rest.trimStart().slice(7), offset: offset + lead });
      break;
    }
    const comma = spec.indexOf(',', offset);
    const end = comma < 0 ? spec.length : comma;
    const raw = spec.slice(offset, end).trim();
    const tokOffset = offset + lead;
    const eq = raw.indexOf('=');
    const key = eq > 0 ? raw.slice(0, eq).trim() : undefined;
    if (key !== undefined && KNOWN_KEYS.has(key)) {
      set(key, { value: raw.slice(eq + 1).trim(), offset: tokOffset });
    } else if (key !== undefined && /^[a-z_-]+$/.test(key)) {
      throw new ConfigError(
        at(tokOffset),
        `unknown disk parameter '${key}' (expected target, format, vdev, access, devtype, backendtype, backend, shared or cache)`,
      );
    } else if (FLAGS.has(raw)) {
      if (flags.has(raw)) throw new ConfigError(at(tokOffset), `disk spec sets '${raw}' twice`);
      flags.set(raw, tokOffset);
    } else {
      let name = POSITIONAL[positional];
      // xend's 3-field form `target,vdev,access`: a vdev where the format belongs.
      if (name === 'format' && !FORMATS.has(raw) && (VDEV.test(raw) || PARTITION.test(raw))) {
        positional++;
        name = 'vdev';
      }
      if (name === undefined)
        throw new ConfigError(at(tokOffset), `too many positional disk parameters: '${raw}'`);
      positional++;
      if (raw !== '') set(name, { value: raw, offset: tokOffset });
    }
    if (comma < 0) break;
    offset = comma + 1;
  }
  return { fields, flags };
}

function yesNo(f: Field | undefined, what: string, at: (o: number) => SourcePosition): boolean | undefined {
  if (!f || f.value === '') return undefined;
  if (['yes', '1', 'true'].includes(f.value)) return true;
  if (['no', '0', 'false'].includes(f.value)) return false;
  throw new ConfigError(at(f.offset), `bad ${what} '${f.value}': expected yes or no`);
}

/**
 * Parses one disk spec string; `pos` is where the string token starts (its opening quote).
 * Notes about accepted parameters that change nothing here go to `warnings`.
 */
export function parseDiskSpec(spec: string, pos: SourcePosition, warnings: string[] = []): DiskSpec {
  const at = (offset: number): SourcePosition => ({ ...pos, column: pos.column + 1 + offset });
  const { fields, flags } = splitSpec(spec, at);

  const vdevField = fields.vdev;
  if (!vdevField || vdevField.value === '')
    throw new ConfigError(pos, `disk spec '${spec}' has no vdev (expected e.g. 'xvda' or 'hda')`);
  const m = VDEV.exec(vdevField.value);
  if (!m && PARTITION.test(vdevField.value)) {
    throw new ConfigError(
      at(vdevField.offset),
      `vdev '${vdevField.value}' names a partition: QEMU gives the guest whole disks (use e.g. xvda, and root=/dev/vda)`,
    );
  }
  if (!m) {
    throw new ConfigError(
      at(vdevField.offset),
      `bad vdev '${vdevField.value}': expected xvdX or vdX (virtio) or hdX (IDE)`,
    );
  }
  const vdev = `${m[1]}${m[2]}`;
  const bus: DiskBus = m[1] === 'hd' ? 'ide' : 'virtio';
  const index = vdevIndex(m[2] ?? 'a');
  if (bus === 'ide' && index >= IDE_MAX)
    throw new ConfigError(at(vdevField.offset), `bad vdev '${vdev}': IDE has only hda to hdd`);

  const target = stripTargetPrefixes(fields.target, at);
  let format: DiskFormat = target?.format ?? 'raw';
  const f = fields.format;
  if (f && f.value !== '') {
    if (f.value !== 'raw' && f.value !== 'qcow2')
      throw new ConfigError(at(f.offset), `bad disk format '${f.value}': expected raw or qcow2`);
    if (target?.format !== undefined && target.format !== f.value)
      throw new ConfigError(
        at(f.offset),
        `disk format '${f.value}' contradicts the target's '${target.format}:' prefix`,
      );
    format = f.value;
  }

  let readOnly = false;
  const a = fields.access;
  if (a && a.value !== '') {
    if (['r', 'ro'].includes(a.value)) readOnly = true;
    else if (!['w', 'rw'].includes(a.value))
      throw new ConfigError(at(a.offset), `bad disk access '${a.value}': expected r, ro, w or rw`);
  }

  const d = fields.devtype;
  const devtype = d && d.value !== '' ? d.value : flags.has('cdrom') ? 'cdrom' : (m[3] ?? 'disk');
  if (devtype !== 'disk' && devtype !== 'cdrom')
    throw new ConfigError(at(d?.offset ?? 0), `bad devtype '${devtype}': expected disk or cdrom`);
  const cdrom = devtype === 'cdrom';
  if (cdrom) {
    if (bus !== 'ide')
      throw new ConfigError(at(vdevField.offset), `a cdrom needs an IDE vdev (hdX), got '${vdev}'`);
    if (a && ['w', 'rw'].includes(a.value))
      throw new ConfigError(at(a.offset), `cdrom ${vdev} cannot be writable: use access r`);
    readOnly = true;
  }
  if (readOnly && bus === 'ide' && !cdrom) {
    throw new ConfigError(
      at(a?.offset ?? 0),
      `IDE hard disk ${vdev} cannot be read-only (QEMU's ide-hd is always writable): use rw, a virtio vdev, or devtype=cdrom`,
    );
  }

  const backend = fields.backend;
  if (backend && !['', '0', 'Domain-0'].includes(backend.value))
    throw new ConfigError(
      at(backend.offset),
      `disk backend '${backend.value}': driver domains are not supported (QEMU on this host opens the image)`,
    );
  const bt = fields.backendtype;
  if (bt && !['', 'phy', 'qdisk', 'tap'].includes(bt.value))
    throw new ConfigError(at(bt.offset), `bad backendtype '${bt.value}': expected phy, qdisk or tap`);
  const script = fields.script;
  if (script && script.value !== '')
    throw new ConfigError(
      at(script.offset),
      `disk script '${script.value}' is not supported: xlkit opens the target itself (give the block device or file)`,
    );
  if (flags.has('discard') && flags.has('no-discard'))
    throw new ConfigError(at(flags.get('no-discard') ?? 0), `disk spec sets both discard and no-discard`);
  for (const flag of ['direct-io-safe', 'trusted', 'untrusted']) {
    if (flags.has(flag))
      warnings.push(`${pos.file}:${pos.line}:${pos.column}: disk flag '${flag}' has no effect with QEMU`);
  }

  const shared = yesNo(fields.shared, 'shared', at);
  const c = fields.cache;
  if (c && c.value !== '' && c.value !== 'none' && c.value !== 'writeback') {
    throw new ConfigError(at(c.offset), `bad cache '${c.value}': expected none or writeback`);
  }

  if ((target === undefined || target.path === '') && !cdrom)
    throw new ConfigError(pos, `disk spec '${spec}' has no target (the image path)`);

  const out: DiskSpec = { format, vdev, bus, index, readOnly, cdrom };
  if (target !== undefined && target.path !== '') out.target = target.path;
  if (shared === true) out.shared = true;
  if (c && c.value !== '') out.cache = c.value as DiskCache;
  if (flags.has('discard')) out.discard = true;
  if (flags.has('no-discard')) out.discard = false;
  return out;
}
