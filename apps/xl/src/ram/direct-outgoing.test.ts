import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkUnixEndpoint, endpointUri } from './direct-outgoing.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

describe('direct RAM endpoints', () => {
  it('become QEMU URIs, IPv6 in brackets', () => {
    expect(endpointUri({ transport: 'tcp', host: '10.1.2.3', port: 4444 })).toBe('tcp:10.1.2.3:4444');
    expect(endpointUri({ transport: 'tcp', host: 'fd00::2', port: 4444 })).toBe('tcp:[fd00::2]:4444');
    expect(endpointUri({ transport: 'unix', path: '/run/x/ram.sock' })).toBe('unix:/run/x/ram.sock');
  });

  it('a unix endpoint must be a socket on this host, owned by this user unless root', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'xl-direct-'));
    dirs.push(dir);
    const file = path.join(dir, 'file');
    await writeFile(file, 'x');
    const sock = path.join(dir, 'ram.sock');
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      await expect(checkUnixEndpoint({ transport: 'unix', path: file })).rejects.toThrow(
        /is not a socket on this host/,
      );
      await expect(checkUnixEndpoint({ transport: 'unix', path: path.join(dir, 'none') })).rejects.toThrow(
        /not a socket/,
      );
      await expect(checkUnixEndpoint({ transport: 'unix', path: sock })).resolves.toBeUndefined();
      await expect(checkUnixEndpoint({ transport: 'unix', path: sock }, 54321)).rejects.toThrow(
        /not to this user \(54321\)/,
      );
      await expect(
        checkUnixEndpoint({ transport: 'tcp', host: '127.0.0.1', port: 1 }),
      ).resolves.toBeUndefined();
    } finally {
      server.close();
    }
  });
});
