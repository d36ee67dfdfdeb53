import { describe, expect, it } from 'vitest';
import { withFakeClient } from '../testing/index.js';
import {
  blockExportAdd,
  blockExportDel,
  inetSocketAddressLegacy,
  nbdServerStart,
  nbdServerStop,
  unixSocketAddressLegacy,
} from './nbd.js';

describe('nbd commands', () => {
  it('use the legacy SocketAddress with a data wrapper and a string port', async () => {
    const ok = (): object => ({});
    await withFakeClient(
      {
        handlers: {
          'nbd-server-start': ok,
          'nbd-server-stop': ok,
          'block-export-add': ok,
          'block-export-del': ok,
        },
      },
      async (c, server) => {
        await nbdServerStart(c, { addr: unixSocketAddressLegacy('/run/nbd.sock') });
        await nbdServerStart(c, { addr: inetSocketAddressLegacy('127.0.0.1', 10809), 'max-connections': 4 });
        await blockExportAdd(c, {
          type: 'nbd',
          id: 'exp-disk0',
          'node-name': 'disk0',
          writable: true,
          name: 'disk0',
        });
        await blockExportDel(c, { id: 'exp-disk0', mode: 'hard' });
        await nbdServerStop(c);
        expect(server.commands.slice(1).map((x) => [x.execute, x.arguments])).toEqual([
          ['nbd-server-start', { addr: { type: 'unix', data: { path: '/run/nbd.sock' } } }],
          [
            'nbd-server-start',
            { addr: { type: 'inet', data: { host: '127.0.0.1', port: '10809' } }, 'max-connections': 4 },
          ],
          [
            'block-export-add',
            { type: 'nbd', id: 'exp-disk0', 'node-name': 'disk0', writable: true, name: 'disk0' },
          ],
          ['block-export-del', { id: 'exp-disk0', mode: 'hard' }],
          ['nbd-server-stop', undefined],
        ]);
      },
    );
  });
});
