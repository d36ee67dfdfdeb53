/**
 * TUNNEL_DATA: bytes of one tunnel channel, with the crc32 of the payload; sent only within the
 * credit the peer granted. The crc is what makes a byte flipped in the pipe fail the migration
 * instead of reaching the destination's NBD server (SPEC.md 4.8, feature `tunnel-crc`).
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { dropHead, head, totalLength } from '../body.js';
import { defineRecord } from '../record-codec.js';
import { crc32Of } from './ram-chunk.js';
import { checkChannel } from './tunnel-control.js';

/** Largest payload of one TUNNEL_DATA record. */
export const TUNNEL_DATA_MAX = 256 * 1024;
export const TUNNEL_DATA_HEADER = 8;
export const TUNNEL_DATA_TYPE = XLKIT_MANDATORY_BASE + 0x111;

export interface TunnelData {
  channel: number;
  /** The payload as slices of the input, never copied (a 256 KiB frame spans socket reads). */
  chunks: Buffer[];
  /** Payload length in bytes. */
  length: number;
}

export const TUNNEL_DATA = defineRecord<TunnelData>({
  type: TUNNEL_DATA_TYPE,
  name: 'TUNNEL_DATA',
  minLength: TUNNEL_DATA_HEADER + 1,
  maxLength: TUNNEL_DATA_HEADER + TUNNEL_DATA_MAX,
  duringRam: true,
  // The reader folds the crc over the payload as it arrives (the record-codec contract).
  crc32From: TUNNEL_DATA_HEADER,
  decode: (body, len, at, ctx) => {
    const h = head(body, TUNNEL_DATA_HEADER);
    const channel = checkChannel(h.readUInt32LE(0), at, TUNNEL_DATA_TYPE);
    const stored = h.readUInt32LE(4);
    const chunks = dropHead(body, TUNNEL_DATA_HEADER);
    const got = ctx.crc32 ?? crc32Of(chunks);
    if (got !== stored)
      throw new StreamError('STREAM_CHECKSUM', `tunnel data crc32 mismatch (channel ${channel})`, {
        offset: at,
        recordType: TUNNEL_DATA_TYPE,
        expected: hex(stored),
        actual: hex(got),
      });
    return { channel, chunks, length: len - TUNNEL_DATA_HEADER };
  },
  encode: (v) => {
    checkChannel(v.channel, 0, TUNNEL_DATA_TYPE);
    const length = totalLength(v.chunks);
    if (length < 1 || length > TUNNEL_DATA_MAX || length !== v.length) {
      throw new StreamError('STREAM_WRITER_STATE', 'tunnel data size', {
        recordType: TUNNEL_DATA_TYPE,
        expected: `1..${TUNNEL_DATA_MAX}, as declared (${v.length})`,
        actual: length,
      });
    }
    const h = Buffer.alloc(TUNNEL_DATA_HEADER);
    h.writeUInt32LE(v.channel, 0);
    h.writeUInt32LE(crc32Of(v.chunks), 4);
    return [h, ...v.chunks];
  },
  summary: (v) => `channel ${v.channel}: ${v.length} bytes`,
});

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
