/** TUNNEL_DATA: bytes of one tunnel channel; sent only within the credit the peer granted. */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { contiguous, dropHead, head } from '../body.js';
import { defineRecord } from '../record-codec.js';
import { checkChannel } from './tunnel-control.js';

/** Largest payload of one TUNNEL_DATA record. */
export const TUNNEL_DATA_MAX = 256 * 1024;
export const TUNNEL_DATA_HEADER = 8;
export const TUNNEL_DATA_TYPE = XLKIT_MANDATORY_BASE + 0x111;

export interface TunnelData {
  channel: number;
  bytes: Buffer;
}

export const TUNNEL_DATA = defineRecord<TunnelData>({
  type: TUNNEL_DATA_TYPE, name: 'TUNNEL_DATA', minLength: TUNNEL_DATA_HEADER + 1, maxLength: TUNNEL_DATA_HEADER + TUNNEL_DATA_MAX, duringRam: true,
  decode: (body, _len, at) => {
    const h = head(body, TUNNEL_DATA_HEADER);
    const channel = checkChannel(h.readUInt32LE(0), at, TUNNEL_DATA_TYPE);
    const reserved = h.readUInt32LE(4);
    if (reserved !== 0) throw new StreamError('STREAM_BAD_RECORD', 'tunnel data reserved field', { offset: at + 4, recordType: TUNNEL_DATA_TYPE, expected: 0, actual: reserved });
    return { channel, bytes: contiguous(dropHead(body, TUNNEL_DATA_HEADER)) };
  },
  encode: (v) => {
    checkChannel(v.channel, 0, TUNNEL_DATA_TYPE);
    if (v.bytes.length < 1 || v.bytes.length > TUNNEL_DATA_MAX) {
      throw new StreamError('STREAM_WRITER_STATE', 'tunnel data size', { recordType: TUNNEL_DATA_TYPE, expected: `1..${TUNNEL_DATA_MAX}`, actual: v.bytes.length });
    }
    const h = Buffer.alloc(TUNNEL_DATA_HEADER);
    h.writeUInt32LE(v.channel, 0);
    return [h, v.bytes];
  },
  summary: (v) => `channel ${v.channel}: ${v.bytes.length} bytes`,
});
