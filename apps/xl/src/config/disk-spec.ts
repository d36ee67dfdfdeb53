/**
 * xl disk specifications (xl-disk-configuration): the positional form
 * `target,format,vdev,access` and the keyed form `format=qcow2, vdev=xvda, access=rw, target=PATH`
 * (target= must come last: it swallows the rest of the string, commas included).
 * xlkit adds `shared=yes`: the image is on storage the migration destination sees too, so
 * `xl migrate -q` does not copy it (libvirt's <shareable/>); and `cache=none|writeback`: QEMU
 * opens the image with O_DIRECT, or through the host's page cache. Without it each host picks
 * none where the image's file system takes O_DIRECT (qemu/disk-cache.ts).
 */
import { ConfigError, type SourcePosition } from '../errors.js';

export type DiskFormat = 'raw' | 'qcow2';
export type DiskBus = 'virtio' | 'ide';
/** QEMU's cache modes xl offers: none = O_DIRECT (cache.direct=on), writeback = the host's page cache. */
export type DiskCache = 'none' | 'writeback';

export interface DiskSpec {
  /** Host path of the image (absent only for an empty cdrom). */
  target?: string;
  format: DiskFormat;
  /** Guest device name as written (xvda, vdb, hdc). */
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
const IDE_MAX = 4;

function vdevIndex(letters: string): number {
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 96);
  return n - 1;
}

/** Parses one disk spec string; `pos` is where the string token starts (its opening quote). */
export function parseDiskSpec(spec: string, pos: SourcePosition): DiskSpec {
  const at = (offset: number): SourcePosition => ({ ...pos, column: pos.column + 1 + offset });
  const fields: Partial<Record<string, { value: string; offset: number }>> = {};
  let positional = 0;
  let offset = 0;
  while (offset <= spec.length) {
    const rest = spec.slice(offset);
    const lead = rest.length - rest.trimStart().length;
    if (rest.trimStart().startsWith('target=')) {
      fields.target = { value: rest.trimStart().slice(7), offset: offset + lead };
      break;
    }
    const comma = spec.indexOf(',', offset);
    const end = comma < 0 ? spec.length : comma;
    const raw = spec.slice(offset, end).trim();
    const tokOffset = offset + lead;
    const eq = raw.indexOf('=');
    const key = eq > 0 ? raw.slice(0, eq).trim() : undefined;
    if (key !== undefined && KNOWN_KEYS.has(key)) {
      if (fields[key]) throw new ConfigError(at(tokOffset), `disk spec sets '${key}' twice`);
      fields[key] = { value: raw.slice(eq + 1).trim(), offset: tokOffset };
    } else if (key !== undefined && /^[a-z_-]+$/.test(key)) {
      throw new ConfigError(
        at(tokOffset),
        `unknown disk parameter '${key}' (expected target, format, vdev, access, devtype, shared or cache)`,
      );
    } else {
      const name = POSITIONAL[positional];
      if (name === undefined)
        throw new ConfigError(at(tokOffset), `too many positional disk parameters: '${raw}'`);
      positional++;
      if (raw !== '') {
        if (fields[name]) throw new ConfigError(at(tokOffset), `disk spec sets '${name}' twice`);
        fields[name] = { value: raw, offset: tokOffset };
      }
    }
    if (comma < 0) break;
    offset = comma + 1;
  }

  const vdevField = fields.vdev;
  if (!vdevField || vdevField.value === '')
    throw new ConfigError(pos, `disk spec '${spec}' has no vdev (expected e.g. 'xvda' or 'hda')`);
  const m = /^(xvd|vd|hd)([a-z]{1,2})$/.exec(vdevField.value);
  if (!m) {
    throw new ConfigError(
      at(vdevField.offset),
      `bad vdev '${vdevField.value}': expected xvdX or vdX (virtio) or hdX (IDE)`,
    );
  }
  const bus: DiskBus = m[1] === 'hd' ? 'ide' : 'virtio';
  const index = vdevIndex(m[2] ?? 'a');
  if (bus === 'ide' && index >= IDE_MAX)
    throw new ConfigError(at(vdevField.offset), `bad vdev '${vdevField.value}': IDE has only hda to hdd`);

  let format: DiskFormat = 'raw';
  const f = fields.format;
  if (f && f.value !== '') {
    if (f.value !== 'raw' && f.value !== 'qcow2')
      throw new ConfigError(at(f.offset), `bad disk format '${f.value}': expected raw or qcow2`);
    format = f.value;
  }

  let readOnly = false;
  const a = fields.access;
  if (a && a.value !== '') {
    if (['r', 'ro'].includes(a.value)) readOnly = true;
    else if (!['w', 'rw'].includes(a.value))
      throw new ConfigError(at(a.offset), `bad disk access '${a.value}': expected ro or rw`);
  }

  let cdrom = false;
  const d = fields.devtype;
  if (d && d.value !== '' && d.value !== 'disk') {
    if (d.value !== 'cdrom')
      throw new ConfigError(at(d.offset), `bad devtype '${d.value}': expected disk or cdrom`);
    if (bus !== 'ide')
      throw new ConfigError(at(d.offset), `a cdrom needs an IDE vdev (hdX), got '${vdevField.value}'`);
    cdrom = true;
    readOnly = true;
  }

  if (readOnly && bus === 'ide' && !cdrom) {
    throw new ConfigError(
      at(a?.offset ?? 0),
      `IDE hard disk ${vdevField.value} cannot be read-only (QEMU's ide-hd is always writable): use rw, a virtio vdev, or devtype=cdrom`,
    );
  }

  let shared = false;
  const sh = fields.shared;
  if (sh && sh.value !== '') {
    if (['yes', '1', 'true'].includes(sh.value)) shared = true;
    else if (!['no', '0', 'false'].includes(sh.value))
      throw new ConfigError(at(sh.offset), `bad shared '${sh.value}': expected yes or no`);
  }

  const c = fields.cache;
  if (c && c.value !== '' && c.value !== 'none' && c.value !== 'writeback') {
    throw new ConfigError(at(c.offset), `bad cache '${c.value}': expected none or writeback`);
  }

  let target = fields.target?.value;
  if (target !== undefined) target = target.replace(/^(file|phy|aio):/, '');
  if ((target === undefined || target === '') && !cdrom)
    throw new ConfigError(pos, `disk spec '${spec}' has no target (the image path)`);

  const out: DiskSpec = { format, vdev: vdevField.value, bus, index, readOnly, cdrom };
  if (target !== undefined && target !== '') out.target = target;
  if (shared) out.shared = true;
  if (c && c.value !== '') out.cache = c.value as DiskCache;
  return out;
}
