import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { QmpClient } from '@xlkit/qmp';
import { MigrationKey } from '@xlkit/stream';
import { addPskClient, addPskServer, PSK_USERNAME, removePsk } from './tls-psk.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** A QMP stand-in that records commands and, at object-add, what QEMU would find in `dir`. */
function fakeQmp(fail?: string) {
  const calls: { command: string; args: Record<string, unknown> }[] = [];
  const seen: { mode: number; fileMode: number; text: string }[] = [];
  const qmp = {
    execute: (command: string, args: Record<string, unknown>) => {
      calls.push({ command, args });
      if (command === fail) return Promise.reject(new Error(`${command} refused`));
      if (command === 'object-add') {
        const dir = String(args.dir);
        const file = path.join(dir, 'keys.psk');
        seen.push({
          mode: statSync(dir).mode & 0o777,
          fileMode: statSync(file).mode & 0o777,
          text: readFileSync(file, 'utf8'),
        });
      }
      return Promise.resolve({});
    },
  } as unknown as QmpClient;
  return { qmp, calls, seen };
}

function domainDir(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), 'xl-tls-psk-'));
  roots.push(d);
  return d;
}

describe('TLS-PSK credentials for QEMU', () => {
  test('server: a 0700 dir with a 0600 keys.psk QEMU reads at each handshake, kept until removePsk', async () => {
    const key = MigrationKey.generate();
    const creds = { id: 'xlkit-nbd-tls', dir: path.join(domainDir(), 'nbd-tls') };
    const { qmp, calls, seen } = fakeQmp();
    await addPskServer(qmp, creds, key);
    expect(seen).toEqual([{ mode: 0o700, fileMode: 0o600, text: `${PSK_USERNAME}:${key.hex()}\n` }]);
    expect(calls[0]).toEqual({
      command: 'object-add',
      args: { 'qom-type': 'tls-creds-psk', id: 'xlkit-nbd-tls', endpoint: 'server', dir: creds.dir },
    });
    expect(existsSync(path.join(creds.dir, 'keys.psk'))).toBe(true);
    await removePsk(qmp, creds);
    expect(calls.at(-1)).toEqual({ command: 'object-del', args: { id: 'xlkit-nbd-tls' } });
    expect(existsSync(creds.dir)).toBe(false);
  });

  test('client: the username given, and the key file gone as soon as QEMU made the object', async () => {
    const key = MigrationKey.generate();
    const creds = { id: 'xlkit-migrate-tls', dir: path.join(domainDir(), 'migrate-tls') };
    const { qmp, calls, seen } = fakeQmp();
    await addPskClient(qmp, creds, key);
    expect(seen).toHaveLength(1);
    expect(calls[0]?.args).toMatchObject({ endpoint: 'client', username: PSK_USERNAME });
    expect(existsSync(creds.dir)).toBe(false);
  });

  test('a refused object-add leaves no key on disk; a leftover dir is never reused', async () => {
    const key = MigrationKey.generate();
    const creds = { id: 'x', dir: path.join(domainDir(), 'nbd-tls') };
    await expect(addPskServer(fakeQmp('object-add').qmp, creds, key)).rejects.toThrow('object-add refused');
    expect(existsSync(creds.dir)).toBe(false);
    // A killed xl's dir with an old key: replaced, not written into.
    const first = fakeQmp();
    await addPskServer(first.qmp, creds, MigrationKey.generate());
    const second = fakeQmp();
    await addPskServer(second.qmp, creds, key);
    expect(second.seen[0]?.text).toBe(`${PSK_USERNAME}:${key.hex()}\n`);
  });

  test('removePsk is quiet when QEMU is gone or never had the object', async () => {
    const creds = { id: 'x', dir: path.join(domainDir(), 'nbd-tls') };
    await expect(removePsk(fakeQmp('object-del').qmp, creds)).resolves.toBeUndefined();
    await expect(removePsk(undefined, creds)).resolves.toBeUndefined();
  });
});
