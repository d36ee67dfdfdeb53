/** The direct RAM transport through both phase machines on fake hosts (no QEMU). */
import { describe, expect, it } from 'vitest';
import { OWN_FEATURES } from '../link/protocol.js';
import { fakePair, type Effects } from '../testing/fake-hosts.js';
import { runReceiver } from './receive-migration.js';
import { runSender } from './send-migration.js';

async function walk(o: { receiverFeatures?: string[] } = {}) {
  const fx: Effects = { source: [], destination: [] };
  let receiverError: unknown;
  const pair = fakePair(fx, undefined, (r) => runReceiver(r).catch((err: unknown) => (receiverError = err)), {
    ramTransport: 'direct',
    ...o,
  });
  const sent = await runSender(pair.sender).catch((err: unknown) => err as Error);
  await pair.received();
  return { fx, sent, receiverError };
}

describe('direct RAM transport', () => {
  it('the receiver reports its endpoint, the source sends to it, nothing is relayed', async () => {
    const { fx, sent, receiverError } = await walk();
    expect(receiverError).toBeUndefined();
    expect(sent).toMatchObject({ name: 'web', host: 'fake-host', chunks: 0 });
    expect(fx.source).toContain('sendRamDirect tcp');
    // No participant finishes at pre-switchover: QEMU does not pause there (no xl round trips in the downtime).
    expect(fx.source).not.toContain('pause-before-switchover');
    // The source's record moved before GO; the receiver took over after it.
    expect(fx.source.indexOf('migrated-away')).toBeGreaterThan(fx.source.indexOf('sendRamDirect tcp'));
    expect(fx.destination).toEqual(['start', 'listenRam', 'takeOver']);
  });

  it('a receiver without direct-ram (an older xlkit) is refused at the handshake, nothing started', async () => {
    const { fx, sent } = await walk({ receiverFeatures: OWN_FEATURES.filter((f) => f !== 'direct-ram') });
    expect((sent as Error).message).toMatch(
      /failed in handshake: refusing to migrate: the receiver lacks required feature\(s\) 'direct-ram'/,
    );
    expect(fx.destination).toEqual([]);
    expect(fx.source).toEqual(['rollback']);
  });
});
