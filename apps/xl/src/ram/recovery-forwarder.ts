/**
 * The direct transport's resume across hosts: the recovery the receiver armed listens on a unix
 * socket in the domain's dir (postcopy-recovery.ts), so the source QEMU reaches it through a TCP
 * port here, and that port takes only TLS-PSK with the resume's own MIGRATION_KEY.
 *
 * xl, not QEMU, ends the TLS: the incoming QEMU's migration went plain at POSTCOPY_GO (its live
 * channel kept its session), because QEMU 7.2 runs an incoming TLS handshake in its main loop,
 * which a vCPU waiting for a page that never comes keeps blocked; and a key fresh for each
 * resume means no key outlives its connection on either host. The source QEMU's client (GnuTLS,
 * `tls-creds-psk`) and Node's OpenSSL agree on TLS 1.3 PSK with (EC)DHE, or TLS 1.2 ECDHE-PSK.
 */
import { createConnection, type Socket } from 'node:net';
import { createServer, type TLSSocket } from 'node:tls';
import type { MigrationKey } from '@xlkit/stream';
import { PSK_USERNAME } from '../qemu/tls-psk.js';

/** TLS 1.2 suites for a 1.2-only peer: PSK with ephemeral ECDH only (forward secrecy). */
const PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES256-CBC-SHA384:ECDHE-PSK-AES128-CBC-SHA256';

export interface RecoveryForwarder {
  port: number;
  /** Settles when a peer holding the key got through (the splice runs). */
  readonly connected: Promise<void>;
  close(): void;
}

/**
 * A TLS-PSK listener at `host` (ephemeral port) for one peer that proves it holds `key`; its
 * plaintext is spliced to `socketPath`. A peer that fails the handshake (no TLS, another key)
 * is dropped and the port stays open for the right one.
 */
export async function forwardToRecovery(
  host: string,
  socketPath: string,
  key: MigrationKey,
): Promise<RecoveryForwarder> {
  const open = new Set<Socket>();
  let through!: () => void;
  const connected = new Promise<void>((resolve) => (through = resolve));
  const server = createServer(
    {
      minVersion: 'TLSv1.2',
      ciphers: PSK_CIPHERS,
      // Identity and key both: a peer with another name gets no key to try.
      pskCallback: (_socket, identity) => (identity === PSK_USERNAME ? key.bytes() : null),
    },
    (inbound: TLSSocket) => {
      server.close();
      through();
      const outbound = createConnection(socketPath);
      for (const s of [inbound, outbound]) {
        open.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          inbound.destroy();
          outbound.destroy();
        });
      }
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    },
  );
  // A failed handshake: that socket is gone, the listener stays.
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: 0 }, resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the forwarder has no TCP address');
  return {
    port: address.port,
    connected,
    close: () => {
      server.close();
      for (const s of open) s.destroy();
    },
  };
}
