import { cont, testing } from '@xlkit/qmp';
import { describe, expect, it } from 'vitest';
import { watchGuestRan } from './guest-ran.js';

const settle = () => new Promise((r) => setTimeout(r, 50));

describe('watchGuestRan', () => {
  it('true once QEMU reports RESUME after cont', async () => {
    await testing.withFakeClient({ handlers: { cont: () => ({}) } }, async (client, server) => {
      const ran = watchGuestRan(client);
      await cont(client);
      await settle();
      expect(ran()).toBe(false);
      server.emitEvent('RESUME');
      await settle();
      expect(ran()).toBe(true);
    });
  });

  it('false for good when QEMU goes without RESUME (an incoming QEMU whose load failed)', async () => {
    await testing.withFakeClient({ handlers: { cont: () => ({}) } }, async (client, server) => {
      const ran = watchGuestRan(client);
      await cont(client);
      server.emitEvent('STOP');
      server.dropConnections();
      await settle();
      expect(client.state).toBe('closed');
      expect(ran()).toBe(false);
    });
  });
});
