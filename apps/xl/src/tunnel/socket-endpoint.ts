/**
 * The two ends of a tunnelled unix-socket service: on one side a listening socket whose
 * connections become channels (source QEMU's NBD client connects here), on the other a
 * connector that joins each incoming channel to the real service socket (the receiver's NBD
 * server).
 */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { rm } from 'node:fs/promises';
import type { ChannelMux } from './channel-mux.js';
import { TunnelError } from './tunnel-error.js';
import { enlargeSendBuffer } from '../host/send-buffer.js';
import { makeSocketsPrivate } from '../host/private-files.js';

export interface TunnelListener {
  readonly path: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops listening and removes the socket file (open channels stay until the mux closes). */
  close(): Promise<void>;
}

/** Listens on `path`; every connection is carried over a new channel to `service`. */
export async function listenTunnel(mux: ChannelMux, path: string, service: number): Promise<TunnelListener> {
  await rm(path, { force: true });
  let accepted = 0;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    accepted++;
    enlargeSendBuffer(socket);
    try {
      mux.open(service, socket);
    } catch {
      socket.destroy();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new TunnelError('endpoint', `cannot listen on ${path}: ${err.message}`, { cause: err })),
    );
    server.listen(path, () => resolve());
  });
  await makeSocketsPrivate([path]);
  return {
    path,
    get accepted() {
      return accepted;
    },
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}

/** An `accept` for ChannelMux that connects each channel of `service` to a unix socket. */
export function connectTo(paths: Readonly<Record<number, string>>): (service: number) => Promise<Duplex> {
  return (service) => {
    const path = paths[service];
    if (path === undefined)
      return Promise.reject(new TunnelError('endpoint', `no local endpoint for service ${service}`));
    return new Promise((resolve, reject) => {
      const socket = net.connect({ path, allowHalfOpen: true });
      socket.once('connect', () => {
        enlargeSendBuffer(socket);
        socket.off('error', reject);
        resolve(socket);
      });
      socket.once('error', reject);
    });
  };
}
