import { afterEach, describe, expect, it } from 'vitest';
import { QmpClient } from '@xlkit/qmp';
import { FakeQmpServer, NO_REPLY, type FakeCommandContext } from '@xlkit/qmp/testing';
import { OutgoingMigration, outgoingCapabilities, prepareOutgoing } from './outgoing-migration.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A fake QEMU whose migrations complete at once; returns every capability list it was sent. */
async function completingQemu(): Promise<{ qmp: QmpClient; capabilities: unknown[][] }> {
  const capabilities: unknown[][] = [];
  const server = await FakeQmpServer.start({
    handlers: {
      'migrate-set-parameters': () => ({}),
      'migrate-set-capabilities': (args) => (capabilities.push(args.capabilities as unknown[]), {}),
      migrate: () => ({}),
      'query-migrate': () => ({ status: 'completed' }),
    },
  });
  const qmp = await QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000 });
  cleanups.push(async () => {
    await qmp.close();
    await server.close();
  });
  return { qmp, capabilities };
}

describe('OutgoingMigration', () => {
  it('sets post-copy and auto-converge explicitly, so an earlier migration leaves nothing armed', async () => {
    const { qmp, capabilities } = await completingQemu();
    const plain = await OutgoingMigration.start(qmp, 'unix:/nowhere', { pollMs: 10 });
    await plain.outcome;
    const throttled = await OutgoingMigration.start(qmp, 'unix:/nowhere', { pollMs: 10, autoConverge: true });
    await throttled.outcome;
    expect(capabilities).toEqual([
      [
        { capability: 'events', state: true },
        { capability: 'pause-before-switchover', state: false },
        { capability: 'postcopy-ram', state: false },
        { capability: 'auto-converge', state: false },
        { capability: 'x-ignore-shared', state: false },
      ],
      [
        { capability: 'events', state: true },
        { capability: 'pause-before-switchover', state: false },
        { capability: 'postcopy-ram', state: false },
        { capability: 'auto-converge', state: true },
        { capability: 'x-ignore-shared', state: false },
      ],
    ]);
  });

  it("turns x-ignore-shared off unless asked: a failed upgrade's must not leave shared RAM out of the next save", () => {
    const upgrade = outgoingCapabilities({ capabilities: [{ capability: 'x-ignore-shared', state: true }] });
    expect(upgrade.filter((c) => c.capability === 'x-ignore-shared')).toEqual([
      { capability: 'x-ignore-shared', state: true },
    ]);
    expect(outgoingCapabilities({})).toContainEqual({ capability: 'x-ignore-shared', state: false });
    // Each capability once, the caller's word last.
    const names = upgrade.map((c) => c.capability);
    expect(new Set(names).size).toBe(names.length);
  });

  it('prepareOutgoing sends capabilities without waiting for the parameters; `prepared` then only migrates', async () => {
    let held: FakeCommandContext | undefined;
    const server = await FakeQmpServer.start({
      handlers: {
        'migrate-set-parameters': (_args, ctx) => ((held = ctx), NO_REPLY),
        'migrate-set-capabilities': () => ({}),
        migrate: () => ({}),
        'query-migrate': () => ({ status: 'completed' }),
      },
    });
    const qmp = await QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000 });
    cleanups.push(async () => {
      await qmp.close();
      await server.close();
    });
    const prepared = prepareOutgoing(qmp, { preSwitchover: true, postcopy: false, autoConverge: false });
    // QEMU holds the first reply; the second command is already there.
    await server.waitForCommand('migrate-set-capabilities');
    expect(held).toBeDefined();
    server.reply(held!.socket, held!.id, {});
    await prepared;
    const before = server.commands.length;
    const run = await OutgoingMigration.start(qmp, 'unix:/nowhere', { pollMs: 10, prepared: true });
    await run.outcome;
    const after = server.commands.slice(before).map((c) => c.execute);
    expect(after[0]).toBe('migrate');
    expect(after).not.toContain('migrate-set-parameters');
    expect(after).not.toContain('migrate-set-capabilities');
  });
});
