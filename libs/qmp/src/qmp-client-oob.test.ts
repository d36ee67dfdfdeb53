/** Out-of-band execution against the fake server: what post-copy recovery needs from a monitor. */
import { afterEach, describe, expect, it } from 'vitest';
import { migrateRecover } from './commands/migration.js';
import { QmpClient } from './qmp-client.js';
import { FakeQmpServer, type FakeQmpServerOptions } from './testing/index.js';

const servers: FakeQmpServer[] = [];
const clients: QmpClient[] = [];

async function serve(opts: FakeQmpServerOptions = {}): Promise<FakeQmpServer> {
  const server = await FakeQmpServer.start({
    ...opts,
    handlers: {
      'query-status': () => ({ status: 'running' }),
      'migrate-recover': () => ({}),
      ...opts.handlers,
    },
  });
  servers.push(server);
  return server;
}

async function connect(server: FakeQmpServer, oob: boolean | 'required'): Promise<QmpClient> {
  const client = await QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000, oob });
  clients.push(client);
  return client;
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('QmpClient out of band', () => {
  it('negotiates oob when asked and offered, and says so', async () => {
    const server = await serve();
    const client = await connect(server, true);
    expect(client.oobEnabled).toBe(true);
    expect(server.commands[0]).toMatchObject({ execute: 'qmp_capabilities', arguments: { enable: ['oob'] } });
    const plain = await connect(server, false);
    expect(plain.oobEnabled).toBe(false);
  });

  it("'required' refuses a monitor that does not offer oob; true goes on without it", async () => {
    const server = await serve({ capabilities: [] });
    const err = await connect(server, 'required').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QMP_CONNECT' });
    expect((err as Error).message).toMatch(/expected a monitor offering oob, got capabilities \[\]/);
    const client = await connect(server, true);
    expect(client.oobEnabled).toBe(false);
  });

  it('refuses exec-oob on a connection without oob before writing anything', async () => {
    const server = await serve();
    const client = await connect(server, false);
    const err = await migrateRecover(client, { uri: 'unix:/x' }, { oob: true }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'QMP_STATE', command: 'migrate-recover' });
    expect(server.commands.map((c) => c.execute)).toEqual(['qmp_capabilities']);
  });

  it('an exec-oob command is answered while in-band ones wait on a blocked main loop', async () => {
    const server = await serve();
    const client = await connect(server, 'required');
    server.blockMainLoop();
    const status = client.execute<{ status: string }>('query-status');
    let statusDone = false;
    status.then(
      () => (statusDone = true),
      () => undefined,
    );
    // The reply to the out-of-band command comes first and settles that command, not the other.
    await migrateRecover(client, { uri: 'unix:/tmp/recover.sock' }, { oob: true });
    expect(statusDone).toBe(false);
    expect(server.commands.map((c) => c.execute)).toEqual(['qmp_capabilities', 'migrate-recover']);
    // A client connecting now gets no greeting, as with QEMU: only a connection made before helps.
    const late = QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000, handshakeTimeoutMs: 200 });
    await expect(late).rejects.toMatchObject({ code: 'QMP_CONNECT' });
    server.unblockMainLoop();
    expect(await status).toEqual({ status: 'running' });
  });

  it('QEMU refuses exec-oob of a command it does not allow out of band', async () => {
    const server = await serve();
    const client = await connect(server, true);
    await expect(client.execute('query-status', undefined, { oob: true })).rejects.toMatchObject({
      code: 'QMP_COMMAND',
      message: expect.stringMatching(/does not support OOB/) as unknown as string,
    });
  });
});
