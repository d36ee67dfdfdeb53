/**
 * Tunnel control records: open a channel, grant send credit, close a channel. 8-byte bodies,
 * allowed in every phase and inside the RAM stream (the tunnel runs alongside it).
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';

/** Channel ids are 1..TUNNEL_CHANNEL_MAX (0 is never used). */
export const TUNNEL_CHANNEL_MAX = 0xffff;
/** Largest credit grant in one record. */
export const TUNNEL_CREDIT_MAX = 256 * 1024 * 1024;

export const TunnelService = { NBD: 1 } as const;
export const TunnelCloseKind = { END: 0, RESET: 1 } as const;

export const TUNNEL_OPEN_TYPE = XLKIT_MANDATORY_BASE + 0x110;
export const TUNNEL_CREDIT_TYPE = XLKIT_MANDATORY_BASE + 0x112;
export const TUNNEL_CLOSE_TYPE = XLKIT_MANDATORY_BASE + 0x113;

export function checkChannel(channel: number, at: number, type: number): number {
  if (channel < 1 || channel > TUNNEL_CHANNEL_MAX) {
    throw new StreamError('STREAM_BAD_RECORD', 'tunnel channel id', {
      offset: at,
      recordType: type,
      expected: `1..${TUNNEL_CHANNEL_MAX}`,
      actual: channel,
    });
  }
  return channel;
}

function pair(type: number, name: string, secondName: string, check: (v: number, at: number) => void) {
  return {
    decode(body: readonly Buffer[], at: number): [number, number] {
      const b = head(body, 8);
      const channel = checkChannel(b.readUInt32LE(0), at, type);
      const second = b.readUInt32LE(4);
      check(second, at + 4);
      return [channel, second];
    },
    encode(channel: number, second: number): Buffer[] {
      checkChannel(channel, 0, type);
      check(second, 4);
      const b = Buffer.alloc(8);
      b.writeUInt32LE(channel, 0);
      b.writeUInt32LE(second, 4);
      return [b];
    },
    bad(at: number, expected: string, actual: number): StreamError {
      return new StreamError('STREAM_BAD_RECORD', `${name} ${secondName}`, {
        offset: at,
        recordType: type,
        expected,
        actual,
      });
    },
  };
}

const open = pair(TUNNEL_OPEN_TYPE, 'tunnel open', 'service', (v, at) => {
  if (v !== TunnelService.NBD) throw open.bad(at, `${TunnelService.NBD}`, v);
});
const credit = pair(TUNNEL_CREDIT_TYPE, 'tunnel credit', 'bytes', (v, at) => {
  if (v < 1 || v > TUNNEL_CREDIT_MAX) throw credit.bad(at, `1..${TUNNEL_CREDIT_MAX}`, v);
});
const close = pair(TUNNEL_CLOSE_TYPE, 'tunnel close', 'kind', (v, at) => {
  if (v !== TunnelCloseKind.END && v !== TunnelCloseKind.RESET)
    throw close.bad(at, '0 (end) or 1 (reset)', v);
});

export interface TunnelOpen {
  channel: number;
  service: number;
}
export interface TunnelCredit {
  channel: number;
  bytes: number;
}
export interface TunnelClose {
  channel: number;
  reset: boolean;
}

export const TUNNEL_OPEN = defineRecord<TunnelOpen>({
  type: TUNNEL_OPEN_TYPE,
  name: 'TUNNEL_OPEN',
  minLength: 8,
  maxLength: 8,
  duringRam: true,
  decode: (body, _len, at) => {
    const [channel, service] = open.decode(body, at);
    return { channel, service };
  },
  encode: (v) => open.encode(v.channel, v.service),
  summary: (v) =>
    `channel ${v.channel} opens (service ${v.service === TunnelService.NBD ? 'nbd' : v.service})`,
});

export const TUNNEL_CREDIT = defineRecord<TunnelCredit>({
  type: TUNNEL_CREDIT_TYPE,
  name: 'TUNNEL_CREDIT',
  minLength: 8,
  maxLength: 8,
  duringRam: true,
  decode: (body, _len, at) => {
    const [channel, bytes] = credit.decode(body, at);
    return { channel, bytes };
  },
  encode: (v) => credit.encode(v.channel, v.bytes),
  summary: (v) => `channel ${v.channel} grants ${v.bytes} bytes`,
});

export const TUNNEL_CLOSE = defineRecord<TunnelClose>({
  type: TUNNEL_CLOSE_TYPE,
  name: 'TUNNEL_CLOSE',
  minLength: 8,
  maxLength: 8,
  duringRam: true,
  decode: (body, _len, at) => {
    const [channel, kind] = close.decode(body, at);
    return { channel, reset: kind === TunnelCloseKind.RESET };
  },
  encode: (v) => close.encode(v.channel, v.reset ? TunnelCloseKind.RESET : TunnelCloseKind.END),
  summary: (v) => `channel ${v.channel} ${v.reset ? 'reset' : 'ends'}`,
});
