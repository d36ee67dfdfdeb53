import { describe, expect, it } from 'vitest';
import { QmpCommandError } from '../errors.js';
import { FakeCommandError, withFakeClient } from '../testing/index.js';
import {
  cont,
  humanMonitorCommand,
  queryStatus,
  queryVersion,
  quit,
  stop,
  systemPowerdown,
} from './run-state.js';

describe('run-state commands', () => {
  it('send the QMP names and return typed results', async () => {
    await withFakeClient(
      {
        handlers: {
          stop: () => ({}),
          cont: () => ({}),
          system_powerdown: () => ({}),
          quit: () => ({}),
          'query-status': () => ({ status: 'paused', running: false, singlestep: false }),
          'query-version': () => ({ qemu: { major: 7, minor: 2, micro: 22 }, package: 'x' }),
          'human-monitor-command': (args) => `ran ${String(args['command-line'])}`,
        },
      },
      async (c, server) => {
        await stop(c);
        await cont(c);
        await systemPowerdown(c);
        expect(await queryStatus(c)).toEqual({ status: 'paused', running: false, singlestep: false });
        expect((await queryVersion(c)).qemu.minor).toBe(2);
        expect(await humanMonitorCommand(c, { 'command-line': 'info status' })).toBe('ran info status');
        await quit(c);
        expect(server.commands.slice(1).map((x) => x.execute)).toEqual([
          'stop',
          'cont',
          'system_powerdown',
          'query-status',
          'query-version',
          'human-monitor-command',
          'quit',
        ]);
        expect(server.commands.find((x) => x.execute === 'stop')?.arguments).toBeUndefined();
      },
    );
  });

  it('surface QEMU errors as QmpCommandError', async () => {
    await withFakeClient(
      {
        handlers: {
          cont: () => {
            throw new FakeCommandError('GenericError', 'Migration is not finalized yet');
          },
        },
      },
      async (c) => {
        await expect(cont(c)).rejects.toMatchObject({ errorClass: 'GenericError', command: 'cont' });
        await expect(cont(c)).rejects.toBeInstanceOf(QmpCommandError);
      },
    );
  });
});
