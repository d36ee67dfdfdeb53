/**
 * DISK_EXPORTS (receiver to sender, `xl migrate -q` only): the targets are created, the
 * incoming QEMU runs on them and its NBD server exports each one writable. Tells the sender
 * where to connect (through the tunnel, or for the direct transport a TCP address and port,
 * or a unix socket when the sender is on the same host) and each disk's export name.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { defineRecord } from '../record-codec.js';
import { MIRROR_MAX_DISKS, MIRROR_RECORD_MAX, fields, type Obj } from './mirror-json.js';
import { jsonBody } from './json-body.js';

export interface DiskExport {
  id: string;
  /** NBD export name. */
  exportName: string;
  /** Where the target was created on the receiver (for messages). */
  target: string;
}

export interface DiskExports {
  transport: 'tunnel' | 'direct';
  /** Direct transport: the address and ephemeral port the receiver's NBD server listens on. */
  host?: string;
  port?: number;
  /** Direct transport to a sender on the same host: the NBD server's unix socket instead. */
  socket?: string;
  disks: DiskExport[];
}

export const DISK_EXPORTS_TYPE = XLKIT_MANDATORY_BASE + 0x102;
/** sun_path holds 108 bytes with the terminating NUL. */
const UNIX_PATH_MAX = 107;
const WHAT = 'disk exports';

const json = jsonBody({ type: DISK_EXPORTS_TYPE, what: WHAT, maxLength: MIRROR_RECORD_MAX });

export function checkDiskExports(o: Obj, at = 0): DiskExports {
  const f = fields(WHAT, at, DISK_EXPORTS_TYPE);
  const transport = f.oneOf(o, 'transport', ['tunnel', 'direct'] as const);
  const disks = f.list(o, 'disks', MIRROR_MAX_DISKS).map((d) => ({
    id: f.str(d, 'id', 64),
    exportName: f.str(d, 'exportName', 256),
    target: f.str(d, 'target'),
  }));
  const out: DiskExports = { transport, disks };
  if (transport === 'direct') {
    const socket = f.optStr(o, 'socket', UNIX_PATH_MAX);
    if (socket !== undefined) {
      if (!socket.startsWith('/') || Buffer.byteLength(socket) > UNIX_PATH_MAX)
        throw f.bad(`the NBD socket must be an absolute path of at most ${UNIX_PATH_MAX} bytes`);
      out.socket = socket;
    } else {
      out.host = f.str(o, 'host', 256);
      out.port = f.int(o, 'port', 1, 65535);
    }
  }
  return out;
}

export const DISK_EXPORTS = defineRecord<DiskExports>({
  type: DISK_EXPORTS_TYPE,
  name: 'DISK_EXPORTS',
  minLength: json.minLength,
  maxLength: json.maxLength,
  maxCount: 1,
  decode: (body, len, at) => checkDiskExports(json.decode(body, len, at), at),
  encode: (v) => json.encode(checkDiskExports(v as unknown as Obj)),
  summary: (v) =>
    `${v.transport}${v.socket ? ` unix:${v.socket}` : v.host ? ` ${v.host}:${v.port}` : ''}: ${v.disks.map((d) => `${d.id}=${d.exportName}`).join(',') || 'none'}`,
});
