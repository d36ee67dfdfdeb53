/**
 * The tunnel's frames and their mapping to @xlkit/stream records (TUNNEL_OPEN, TUNNEL_DATA,
 * TUNNEL_CREDIT, TUNNEL_CLOSE), so the multiplexer itself knows nothing of the transport.
 */
import type { StreamRecord, StreamWriter } from '@xlkit/stream';

export type TunnelFrame =
  | { kind: 'open'; channel: number; service: number }
  | { kind: 'data'; channel: number; chunks: Buffer[]; length: number }
  | { kind: 'credit'; channel: number; bytes: number }
  | { kind: 'close'; channel: number; reset: boolean };

/** Sends one frame; resolves when the transport can take the next (backpressure). */
export type FrameSend = (frame: TunnelFrame) => Promise<void>;

/** The frame a stream record carries, or undefined when it is not a tunnel record. */
export function frameOfRecord(rec: StreamRecord): TunnelFrame | undefined {
  switch (rec.name) {
    case 'TUNNEL_OPEN':
      return { kind: 'open', channel: rec.value.channel, service: rec.value.service };
    case 'TUNNEL_DATA':
      return { kind: 'data', channel: rec.value.channel, chunks: rec.value.chunks, length: rec.value.length };
    case 'TUNNEL_CREDIT':
      return { kind: 'credit', channel: rec.value.channel, bytes: rec.value.bytes };
    case 'TUNNEL_CLOSE':
      return { kind: 'close', channel: rec.value.channel, reset: rec.value.reset };
    default:
      return undefined;
  }
}

/** A FrameSend that writes records with a StreamWriter (which interleaves them whole). */
export function writerFrameSend(writer: StreamWriter): FrameSend {
  return async (f) => {
    switch (f.kind) {
      case 'open':
        return writer.writeRecord('TUNNEL_OPEN', { channel: f.channel, service: f.service });
      case 'data':
        return writer.writeRecord('TUNNEL_DATA', { channel: f.channel, chunks: f.chunks, length: f.length });
      case 'credit':
        return writer.writeRecord('TUNNEL_CREDIT', { channel: f.channel, bytes: f.bytes });
      case 'close':
        return writer.writeRecord('TUNNEL_CLOSE', { channel: f.channel, reset: f.reset });
    }
  };
}
