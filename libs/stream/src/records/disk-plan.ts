/**
 * DISK_PLAN (sender to receiver, phase 1, `xl migrate -q` only): the disks to mirror, how,
 * and where the receiver should create their targets. Sent after DOMAIN_INFO, before the
 * receiver starts QEMU, so the receiver can refuse before touching anything.
 */
import { Phase, XLKIT_MANDATORY_BASE } from '../constants.js';
import { defineRecord } from '../record-codec.js';
import { MIRROR_MAX_DISKS, MIRROR_RECORD_MAX, fields, type Obj } from './mirror-json.js';
import { jsonBody } from './json-body.js';

export type MirrorTransport = 'tunnel' | 'direct';

export interface PlannedDisk {
  /** Guest device name (vdev), the disk's id everywhere. */
  id: string;
  format: 'raw' | 'qcow2';
  virtualSize: number;
  /** Bytes allocated on the source host. */
  allocation: number;
  /** The image path on the source host. */
  path: string;
  /** st_dev / st_ino of the source image, to refuse mirroring a disk onto itself. */
  dev: number;
  ino: number;
}

export interface DiskPlan {
  /** Identity of the source host's kernel (boot id); equal ids mean the same filesystem view. */
  hostId: string;
  /** The sender's network and mount namespaces (/proc/self/ns/*) and effective uid: with
   *  hostId they tell a receiver on the very same host, which may then serve NBD on a unix socket. */
  netns?: string;
  mntns?: string;
  uid?: number;
  transport: MirrorTransport;
  syncWrites: boolean;
  reuseTarget: boolean;
  /** Directory on the receiver for the targets; absent = the same path as on the source. */
  targetDir?: string;
  disks: PlannedDisk[];
}

export const DISK_PLAN_TYPE = XLKIT_MANDATORY_BASE + 0x101;
const WHAT = 'disk plan';

const json = jsonBody({ type: DISK_PLAN_TYPE, what: WHAT, maxLength: MIRROR_RECORD_MAX });

export function checkDiskPlan(o: Obj, at = 0): DiskPlan {
  const f = fields(WHAT, at, DISK_PLAN_TYPE);
  const disks = f.list(o, 'disks', MIRROR_MAX_DISKS).map((d) => ({
    id: f.str(d, 'id', 64),
    format: f.oneOf(d, 'format', ['raw', 'qcow2'] as const),
    virtualSize: f.int(d, 'virtualSize', 1),
    allocation: f.int(d, 'allocation', 0),
    path: f.str(d, 'path'),
    dev: f.int(d, 'dev', 0),
    ino: f.int(d, 'ino', 0),
  }));
  if (new Set(disks.map((d) => d.id)).size !== disks.length) throw f.bad('disk ids must be unique');
  const plan: DiskPlan = {
    hostId: f.str(o, 'hostId', 256),
    transport: f.oneOf(o, 'transport', ['tunnel', 'direct'] as const),
    syncWrites: f.bool(o, 'syncWrites'),
    reuseTarget: f.bool(o, 'reuseTarget'),
    disks,
  };
  const netns = f.optStr(o, 'netns', 256);
  if (netns !== undefined) plan.netns = netns;
  const mntns = f.optStr(o, 'mntns', 256);
  if (mntns !== undefined) plan.mntns = mntns;
  if (o.uid !== undefined) plan.uid = f.int(o, 'uid', 0, 0xffffffff);
  const targetDir = f.optStr(o, 'targetDir');
  if (targetDir !== undefined) plan.targetDir = targetDir;
  return plan;
}

export const DISK_PLAN = defineRecord<DiskPlan>({
  type: DISK_PLAN_TYPE,
  name: 'DISK_PLAN',
  minLength: json.minLength,
  maxLength: json.maxLength,
  phase: Phase.BOOTSTRAP,
  maxCount: 1,
  decode: (body, len, at) => checkDiskPlan(json.decode(body, len, at), at),
  encode: (v) => json.encode(checkDiskPlan(v as unknown as Obj)),
  summary: (v) =>
    `${v.transport}${v.syncWrites ? ', sync writes' : ''}${v.targetDir ? `, into ${v.targetDir}` : ''}: ${v.disks.map((d) => `${d.id}:${d.format}:${d.virtualSize}`).join(',') || 'no disks'}`,
});
