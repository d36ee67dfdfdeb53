import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  QmpCommandError,
  QmpConnectError,
  QmpInterruptedError,
  QmpProtocolError,
  QmpStateError,
  QmpTimeoutError,
} from './errors.js';
import { QmpClient } from './qmp-client.js';
import { FakeCommandError, FakeQmpServer, NO_REPLY, type FakeQmpServerOptions } from './testing/index.js';

const servers: FakeQmpServer[] = [];
const clients: QmpClient[] = [];

async function setup(opts: FakeQmpServerOptions = {}): Promise<{ server: FakeQmpServer; client: QmpClient }> {
  const server = await FakeQmpServer.start(opts);
  servers.push(server);
  const client = await QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000 });
  clients.push(client);
  return { server, client };
}

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('QmpClient handshake', () => {
  it('keeps the greeting and negotiates capabilities before anything else', async () => {
    const { server, client } = await setup();
    expect(client.greeting.version.qemu).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(client.greeting.capabilities).toEqual(['oob']);
    expect(client.state).toBe('running');
    expect(server.commands.map((c) => c.execute)).toEqual(['qmp_capabilities']);
    expect(server.commands[0]?.arguments).toBeUndefined();
  });

  it('retries while the socket does not exist yet', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'xlkit-qmp-test-'));
    try {
      const path = join(dir, 'late.sock');
      const connecting = QmpClient.connect(path, { connectTimeoutMs: 5000, retryIntervalMs: 20 });
      await sleep(100);
      const server = await FakeQmpServer.start({ socketPath: path });
      servers.push(server);
      const client = await connecting;
      clients.push(client);
      expect(server.commands.map((c) => c.execute)).toEqual(['qmp_capabilities']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives up with QmpConnectError when nothing listens', async () => {
    const err = await QmpClient.connect('/nonexistent-xlkit/qmp.sock', {
      connectTimeoutMs: 60,
      retryIntervalMs: 20,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpConnectError);
    expect((err as QmpConnectError).cause).toMatchObject({ code: 'ENOENT' });
  });

  it('fails the handshake on a bad greeting or a silent server', async () => {
    const bad = await FakeQmpServer.start({ rawGreeting: '{"QMP": {"version": 7}}\n' });
    const silent = await FakeQmpServer.start({ silent: true });
    servers.push(bad, silent);
    const e1 = await QmpClient.connect(bad.socketPath).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(QmpConnectError);
    expect((e1 as Error).cause).toBeInstanceOf(QmpProtocolError);
    const e2 = await QmpClient.connect(silent.socketPath, { handshakeTimeoutMs: 50 }).catch(
      (e: unknown) => e,
    );
    expect(e2).toBeInstanceOf(QmpConnectError);
    expect((e2 as Error).cause).toBeInstanceOf(QmpTimeoutError);
  });
});

describe('QmpClient commands', () => {
  it('sends arguments with a unique id and resolves with the return value', async () => {
    const { server, client } = await setup({
      handlers: { 'query-status': () => ({ status: 'running', running: true }) },
    });
    const [a, b] = await Promise.all([
      client.execute('query-status'),
      client.execute('query-status', { x: 1 }),
    ]);
    expect(a).toEqual({ status: 'running', running: true });
    expect(b).toEqual(a);
    const sent = server.commands.filter((c) => c.execute === 'query-status');
    expect(sent[1]?.arguments).toEqual({ x: 1 });
    expect(sent[0]?.id).not.toEqual(sent[1]?.id);
  });

  it('routes replies by id when they arrive out of order', async () => {
    const { client } = await setup({
      handlers: {
        slow: async () => {
          await sleep(80);
          return 'slow';
        },
        fast: () => 'fast',
      },
    });
    const order: string[] = [];
    const slow = client.execute<string>('slow').then((v) => (order.push(v), v));
    const fast = client.execute<string>('fast').then((v) => (order.push(v), v));
    expect(await Promise.all([slow, fast])).toEqual(['slow', 'fast']);
    expect(order).toEqual(['fast', 'slow']);
  });

  it('keeps the error class and desc', async () => {
    const { client } = await setup({
      handlers: {
        stop: () => {
          throw new FakeCommandError('DeviceNotFound', "Device 'x' not found");
        },
      },
    });
    const err = await client.execute('stop').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpCommandError);
    expect(err).toMatchObject({
      code: 'QMP_COMMAND',
      command: 'stop',
      errorClass: 'DeviceNotFound',
      desc: "Device 'x' not found",
    });
    const missing = await client.execute('nope').catch((e: unknown) => e);
    expect(missing).toMatchObject({ errorClass: 'CommandNotFound' });
  });

  it('reassembles replies split across writes and separates merged ones', async () => {
    const { server, client } = await setup({ handlers: { a: () => NO_REPLY, b: () => NO_REPLY } });
    const pa = client.execute('a');
    const pb = client.execute('b');
    await server.waitForCommand('b');
    const [ida, idb] = server.commands.slice(-2).map((c) => c.id);
    const bytes = Buffer.from(
      `{"return": {"v": "é"}, "id": ${JSON.stringify(ida)}}\r\n{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}}\r\n{"return": 2, "id": ${JSON.stringify(idb)}}\r\n`,
    );
    const stops = client.listen('STOP');
    server.sendRaw(bytes.subarray(0, 13));
    await sleep(10);
    server.sendRaw(bytes.subarray(13, 15)); // splits the two bytes of é
    await sleep(10);
    server.sendRaw(bytes.subarray(15));
    expect(await pa).toEqual({ v: 'é' });
    expect(await pb).toBe(2);
    expect(await stops.get()).toEqual({
      event: 'STOP',
      data: {},
      timestamp: { seconds: 1, microseconds: 2 },
    });
  });

  it('times out a command, then drops its late reply and keeps working', async () => {
    const { server, client } = await setup({ handlers: { hang: () => NO_REPLY, ok: () => 'ok' } });
    const err = await client.execute('hang', undefined, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpTimeoutError);
    expect(err).toMatchObject({ command: 'hang', timeoutMs: 30 });
    const late = server.commands.find((c) => c.execute === 'hang');
    server.sendRaw(`{"return": {}, "id": ${JSON.stringify(late?.id)}}\n`);
    expect(await client.execute('ok')).toBe('ok');
  });

  it('rejects pending commands with QmpInterruptedError when the server drops', async () => {
    const { server, client } = await setup({ handlers: { hang: () => NO_REPLY } });
    const p = client.execute('hang');
    await server.waitForCommand('hang');
    server.dropConnections();
    await expect(p).rejects.toBeInstanceOf(QmpInterruptedError);
    await client.closed;
    expect(client.state).toBe('closed');
    await expect(client.execute('hang')).rejects.toBeInstanceOf(QmpStateError);
  });

  it('close() rejects pending commands and ends listeners', async () => {
    const { server, client } = await setup({ handlers: { hang: () => NO_REPLY } });
    const p = client.execute('hang');
    const listener = client.listen();
    await server.waitForCommand('hang');
    await client.close();
    await expect(p).rejects.toMatchObject({ code: 'QMP_INTERRUPTED', command: 'hang' });
    expect(await listener.next()).toBeUndefined();
    await expect(client.listen('X').get()).rejects.toBeInstanceOf(QmpInterruptedError);
  });
});

describe('QmpClient protocol errors', () => {
  it('treats an oversize line as a protocol error instead of buffering it', async () => {
    const server = await FakeQmpServer.start({ handlers: { hang: () => NO_REPLY } });
    servers.push(server);
    const client = await QmpClient.connect(server.socketPath, { maxLineBytes: 1024 });
    clients.push(client);
    const p = client.execute('hang');
    await server.waitForCommand('hang');
    server.sendRaw(Buffer.alloc(4096, 0x61));
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QmpInterruptedError);
    expect((err as Error).cause).toBeInstanceOf(QmpProtocolError);
    expect(client.error).toMatchObject({ code: 'QMP_PROTOCOL' });
  });

  it.each([
    ['not JSON', 'garbage{\n'],
    ['not an object', '[1, 2]\n'],
    ['an unknown shape', '{"hello": 1}\n'],
    ['an error without id', '{"error": {"class": "GenericError", "desc": "JSON parse error"}}\n'],
  ])('closes with QmpProtocolError on %s', async (_what, line) => {
    const { server, client } = await setup({ handlers: { hang: () => NO_REPLY } });
    const p = client.execute('hang');
    await server.waitForCommand('hang');
    server.sendRaw(line);
    await expect(p).rejects.toBeInstanceOf(QmpInterruptedError);
    expect(client.error).toBeInstanceOf(QmpProtocolError);
  });
});

describe('QmpClient events', () => {
  it('waitForEvent is armed before the command that triggers it', async () => {
    const { server, client } = await setup({
      handlers: {
        stop: (_args, ctx) => {
          ctx.server.emitEvent('STOP');
          return {};
        },
      },
    });
    const stopped = client.waitForEvent('STOP');
    await client.execute('stop');
    expect((await stopped).event).toBe('STOP');
    expect(server.commands.at(-1)?.execute).toBe('stop');
  });

  it('waitForEvent honours a filter and a timeout', async () => {
    const { server, client } = await setup();
    const done = client.waitForEvent('MIGRATION', (e) => e.data['status'] === 'completed');
    server.emitEvent('MIGRATION', { status: 'active' });
    server.emitEvent('MIGRATION', { status: 'completed' });
    expect((await done).data).toEqual({ status: 'completed' });
    await expect(client.waitForEvent('RESUME', undefined, { timeoutMs: 30 })).rejects.toBeInstanceOf(
      QmpTimeoutError,
    );
  });

  it('gives every subscriber its own copy; a slow one does not block replies', async () => {
    const { server, client } = await setup({ handlers: { ping: () => 'pong' } });
    const slow = client.listen();
    const fast = client.listen(['A', 'B']);
    for (let i = 0; i < 100; i++) server.emitEvent(i % 2 ? 'A' : 'C', { i });
    server.emitEvent('B');
    expect(await client.execute('ping')).toBe('pong');
    const seen: string[] = [];
    for await (const e of fast) {
      seen.push(e.event);
      if (e.event === 'B') break;
    }
    expect(seen).toHaveLength(51);
    expect(slow.size).toBe(101);
    expect((await slow.get()).data).toEqual({ i: 0 });
  });

  it('waitForEvent rejects with QmpInterruptedError when the connection ends', async () => {
    const { server, client } = await setup();
    const p = client.waitForEvent('SHUTDOWN');
    server.dropConnections();
    await expect(p).rejects.toBeInstanceOf(QmpInterruptedError);
  });
});

describe('QmpClient waitForEvent when never awaited', () => {
  it('does not leave an unhandled rejection behind when the connection closes', async () => {
    const { client } = await setup({
      handlers: {
        stop: () => {
          throw new FakeCommandError('GenericError', 'nope');
        },
      },
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const stopped = client.waitForEvent('STOP');
      await expect(client.execute('stop')).rejects.toBeInstanceOf(QmpCommandError);
      await client.close();
      await sleep(20);
      expect(unhandled).toEqual([]);
      await expect(stopped).rejects.toBeInstanceOf(QmpInterruptedError);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
