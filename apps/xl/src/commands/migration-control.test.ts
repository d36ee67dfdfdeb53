import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CommandIo } from '../command.js';
import { main } from '../main.js';
import { listenControl, type ControlServer } from '../migrate/control-server.js';
import { StatusBoard, type MigrationStatus } from '../migrate/status-board.js';
import { openStore, type DomainStore } from '../store/domain-store.js';
import type { DomainRecord } from '../store/domain-record.js';
import { formatMigrationStatus } from './migrate-status.js';
import { testDomainConfig } from '../testing/domain-config.js';

const config = testDomainConfig();

let dir: string;
let store: DomainStore;
let server: ControlServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-mctl-'));
  store = await openStore(path.join(dir, 's'), {});
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A record this test process owns (status 'creating', so no xl command reaps it). */
const domain = (name: string): Promise<DomainRecord> =>
  store.allocate({ name, uuid: '00000000-0000-4000-8000-000000000075', config });

/** An `xl migrate` of `record` in the ram phase, as its control socket shows it. */
async function migrating(record: DomainRecord) {
  const session = { goSent: false, failure: new AbortController() };
  const board = new StatusBoard({ domain: 'web', host: 'host2' });
  board.follow(session);
  board.phase('ram');
  board.update({ bytes: 3 << 20, total: 8 << 20, fields: { pass: 1, dirtyPagesRate: 10 } });
  server = await listenControl(store.paths(record.id).migrationControl, board, session);
  return session;
}

async function xl(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const io: CommandIo = { stdin: new PassThrough(), stdout, stderr, env: {} };
  const code = await main(['--state-dir', store.root, ...argv], io);
  return { code, out, err };
}

describe('xl migrate-status and migrate-abort', () => {
  it('show the status of a running migration, by name or id, as text or JSON', async () => {
    const web = await domain('web');
    await migrating(web);
    const text = await xl('migrate-status', 'web');
    expect(text).toMatchObject({ code: 0, err: '' });
    expect(text.out).toMatch(
      /^migrate web to host2: phase ram, 3\.0 MiB of 8\.0 MiB \(37%\), .* s elapsed\n$/,
    );
    const json = await xl('migrate-status', '--json', String(web.id));
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ phase: 'ram', bytes: 3 << 20, pass: 1, abortable: true });
  });

  it('abort before GO aborts the migration; after GO it is refused, exit 1', async () => {
    const session = await migrating(await domain('web'));
    const r = await xl('migrate-abort', 'web');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toContain("Aborting the migration of 'web'");
    expect(session.failure.signal.reason).toMatchObject({ message: 'aborted by xl migrate-abort' });
    session.goSent = true;
    expect(await xl('migrate-abort', 'web')).toMatchObject({
      code: 1,
      err: "xl: cannot abort the migration of 'web': past the point of no return\n",
    });
  });

  it('finds the source as NAME--migratedaway once renamed for the switch-over', async () => {
    const away = await domain('web--migratedaway');
    await migrating(away);
    expect((await xl('migrate-status', 'web')).code).toBe(0);
  });

  it('one line, exit 1, when no migration answers or there is no such domain', async () => {
    await domain('web');
    expect(await xl('migrate-status', 'web')).toEqual({
      code: 1,
      out: '',
      err: "xl: domain 'web' is not migrating (its status is creating; no xl migrate answers on its control socket)\n",
    });
    expect(await xl('migrate-abort', 'nope')).toEqual({
      code: 1,
      out: '',
      err: "xl: domain 'nope' does not exist\n",
    });
  });
});

describe('formatMigrationStatus', () => {
  const base: MigrationStatus = {
    domain: 'web',
    host: 'HOST',
    phase: 'ram',
    bytes: 812 * 2 ** 20,
    total: 2 ** 30,
    remaining: 212 * 2 ** 20,
    rate: 310 * 2 ** 20,
    pass: 2,
    dirtyPagesRate: 1200,
    expectedDowntimeMs: 40,
    elapsed: 3.1,
    abortable: true,
    aborted: false,
  };

  it('says it all on one line, and more once it cannot be aborted or rolls back', () => {
    expect(formatMigrationStatus(base)).toEqual([
      'migrate web to HOST: phase ram, 812.0 MiB of 1.0 GiB (79%), 310.0 MiB/s, pass 2, dirty 1200 pages/s, expected downtime 40 ms, 3.1 s elapsed',
    ]);
    expect(formatMigrationStatus({ ...base, aborted: true })[1]).toMatch(/being rolled back/);
    expect(formatMigrationStatus({ ...base, abortable: false })[1]).toMatch(/past the point of no return/);
    const { total: _t, remaining: _r, pass: _p, dirtyPagesRate: _d, expectedDowntimeMs: _e, ...bare } = base;
    expect(formatMigrationStatus({ ...bare, phase: 'handshake', bytes: 0, rate: 0, elapsed: 0.2 })).toEqual([
      'migrate web to HOST: phase handshake, 0 B, 0.0 MiB/s, 0.2 s elapsed',
    ]);
  });
});
