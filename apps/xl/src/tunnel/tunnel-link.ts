/**
 * Joins a ChannelMux to one direction pair of the migrate pipe: frames go out as records
 * through the writer (interleaved whole with the other records), and tunnel records coming
 * in are taken out of the reader wherever they fall, whoever is reading it at the time.
 */
import type { StreamReader, StreamWriter } from '@xlkit/stream';
import { ChannelMux, type ChannelMuxOptions } from './channel-mux.js';
import { frameOfRecord, writerFrameSend } from './frames.js';

export interface TunnelLinkOptions extends Omit<ChannelMuxOptions, 'send'> {
  reader: StreamReader;
  writer: StreamWriter;
}

export function attachTunnel(o: TunnelLinkOptions): ChannelMux {
  const { reader, writer, ...muxOptions } = o;
  const mux = new ChannelMux({ ...muxOptions, send: writerFrameSend(writer) });
  reader.intercept = (rec) => {
    const frame = frameOfRecord(rec);
    if (frame === undefined) return false;
    mux.receive(frame); // a protocol violation throws out of the reader's next()
    return true;
  };
  return mux;
}

/**
 * Resets every channel and stops sending. The reader keeps handing tunnel records to the
 * closed mux, which drops them: a frame the peer sent before it saw our close is stale, not
 * an error in whatever else is read from that stream.
 */
export function detachTunnel(mux: ChannelMux): void {
  mux.close();
}
