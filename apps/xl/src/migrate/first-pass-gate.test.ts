import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFakeClient } from '@xlkit/qmp/testing';
import { FIRST_PASS_LIMIT_MS, gateFirstPass } from './first-pass-gate.js';

const limits = (server: { commands: { execute: string; arguments?: Record<string, unknown> }[] }) =>
  server.commands.filter((x) => x.execute === 'migrate-set-parameters').map((x) => x.arguments?.['downtime-limit']);

describe('the first-pass gate', () => {
  it('keeps the limit small until the second dirty sync, then sets the real one', async () => {
    await withFakeClient({ handlers: { 'migrate-set-parameters': () => ({}) } }, async (c, server) => {
      const gate = await gateFirstPass(c, 300, () => undefined);
      expect(limits(server)).toEqual([FIRST_PASS_LIMIT_MS]);
      server.emitEvent('MIGRATION_PASS', { pass: 1 });
      await sleep(20);
      expect(limits(server)).toEqual([FIRST_PASS_LIMIT_MS]);
      server.emitEvent('MIGRATION_PASS', { pass: 2 });
      await gate.opened;
      expect(limits(server)).toEqual([FIRST_PASS_LIMIT_MS, 300]);
      server.emitEvent('MIGRATION_PASS', { pass: 3 });
      await gate.release();
      expect(limits(server)).toEqual([FIRST_PASS_LIMIT_MS, 300]);
    });
  });

  it('a user limit below the first-pass one is used throughout', async () => {
    await withFakeClient({ handlers: { 'migrate-set-parameters': () => ({}) } }, async (c, server) => {
      const gate = await gateFirstPass(c, 4, () => undefined);
      server.emitEvent('MIGRATION_PASS', { pass: 2 });
      await gate.opened;
      expect(limits(server)).toEqual([4, 4]);
    });
  });

  it('release sets the real limit when the first pass never ended (a failed migration)', async () => {
    await withFakeClient({ handlers: { 'migrate-set-parameters': () => ({}) } }, async (c, server) => {
      const gate = await gateFirstPass(c, 1000, () => undefined);
      await gate.release();
      await gate.release();
      expect(limits(server)).toEqual([FIRST_PASS_LIMIT_MS, 1000]);
    });
  });

  it('a failure to set the real limit reaches onError (the migration must not go on under the small one)', async () => {
    let calls = 0;
    await withFakeClient({
      handlers: {
        'migrate-set-parameters': () => {
          if (++calls === 2) throw new Error('refused');
          return {};
        },
      },
    }, async (c, server) => {
      const errors: unknown[] = [];
      await gateFirstPass(c, 300, (err) => errors.push(err));
      server.emitEvent('MIGRATION_PASS', { pass: 2 });
      await expect.poll(() => errors.length).toBe(1);
      expect(String(errors[0])).toMatch(/refused/);
    });
  });
});
