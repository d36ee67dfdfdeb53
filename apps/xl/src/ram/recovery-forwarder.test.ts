/** The resume's TLS-PSK port in front of the armed recovery socket (Node TLS on both ends, no QEMU). */
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { MigrationKey } from '@xlkit/stream';
import { forwardToRecovery } from './recovery-forwarder.js';

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** What reaches the armed socket (an echo server standing in for QEMU's recovery listener). */
async function armedSocket(): Promise<{ path: string; received: () => string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xlkit-forwarder-'));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  const socket = path.join(dir, 'recover.sock');
  let received = '';
  const echo = createServer((c) => {
    c.on('data', (b: Buffer) => (received += b.toString()));
    c.pipe(c);
  }).listen(socket);
  cleanup.push(() => new Promise<void>((r) => echo.close(() => r())));
  return { path: socket, received: () => received };
}

/** A TLS-PSK client like QEMU's `tls-creds-psk`: sends `text`, resolves with the echo or the failure. */
function pskClient(port: number, key: MigrationKey, identity = 'xlkit', text = 'pages'): Promise<string> {
  return new Promise((resolve) => {
    const c = connect({
      host: '127.0.0.1',
      port,
      pskCallback: () => ({ identity, psk: key.bytes() }),
      ciphers: 'ECDHE-PSK-CHACHA20-POLY1305',
      checkServerIdentity: () => undefined,
    });
    cleanup.push(() => void c.destroy());
    c.on('secureConnect', () => c.write(text));
    c.once('data', (b: Buffer) => resolve(`echo:${b.toString()}`));
    c.on('error', (err) => resolve(`error:${err.message}`));
    c.on('close', () => resolve('closed'));
  });
}

describe('forwardToRecovery', () => {
  it('lets through only a peer holding the key, then splices it to the armed socket both ways', async () => {
    const armed = await armedSocket();
    const key = MigrationKey.generate();
    const fwd = await forwardToRecovery('127.0.0.1', armed.path, key);
    cleanup.push(() => fwd.close());
    // No TLS at all: the bytes never reach QEMU.
    const plain: Socket = createConnection({ host: '127.0.0.1', port: fwd.port });
    cleanup.push(() => void plain.destroy());
    await new Promise<void>((resolve) => {
      plain.on('error', () => resolve());
      plain.on('close', () => resolve());
      plain.write('QEVM\x00\x00\x00\x03 a forged stream\n');
    });
    // Another key, or the right key under another name: refused.
    expect(await pskClient(fwd.port, MigrationKey.generate())).toMatch(/^(error|closed)/);
    expect(await pskClient(fwd.port, key, 'someone')).toMatch(/^(error|closed)/);
    expect(armed.received()).toBe('');
    // The port stayed open for the source QEMU.
    expect(await pskClient(fwd.port, key)).toBe('echo:pages');
    await fwd.connected;
    expect(armed.received()).toBe('pages');
  });

  it('takes one peer: the port closes once the source got through', async () => {
    const armed = await armedSocket();
    const key = MigrationKey.generate();
    const fwd = await forwardToRecovery('127.0.0.1', armed.path, key);
    cleanup.push(() => fwd.close());
    expect(await pskClient(fwd.port, key)).toBe('echo:pages');
    const second = createConnection({ host: '127.0.0.1', port: fwd.port });
    cleanup.push(() => void second.destroy());
    const refused = await new Promise<string>((resolve) =>
      second.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? '')),
    );
    expect(refused).toBe('ECONNREFUSED');
  });
});
