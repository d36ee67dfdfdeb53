/** `xl migrate --resume` through both phase machines on fake hosts (no QEMU). */
import { describe, expect, it } from 'vitest';
import { fakePair, type Effects, type FailPoint } from '../testing/fake-hosts.js';
import { runReceiver } from './receive-migration.js';
import { runSender } from './send-migration.js';

async function resume(fail?: FailPoint, transport: 'relay' | 'direct' = 'relay', resuming = true) {
  const fx: Effects = { source: [], destination: [] };
  let receiverError: unknown;
  const pair = fakePair(fx, fail, (r) => runReceiver(r).catch((err: unknown) => (receiverError = err)), {
    ramTransport: transport,
    ...(resuming ? { resume: true } : { postcopy: { afterPasses: 1 } }),
  });
  const sent = await runSender(pair.sender).catch((err: unknown) => err as Error);
  await pair.received();
  return { fx, sent, receiverError, stages: pair.sender.stages.durations() };
}

describe('xl migrate --resume', () => {
  for (const transport of ['relay', 'direct'] as const) {
    it(`${transport}: the receiver adopts the domain it runs, phase 3 again, then the usual switch-over`, async () => {
      const { fx, sent, receiverError, stages } = await resume(undefined, transport);
      expect(receiverError).toBeUndefined();
      expect(sent).toMatchObject({ name: 'web', host: 'fake-host' });
      // No bootstrap, no mirror: the domain already runs there.
      expect(Object.keys(stages)).toEqual(['handshake', 'ram', 'switchover', 'cleanup']);
      expect(fx.destination[0]).toBe('adopt');
      expect(fx.destination).not.toContain('start');
      expect(fx.source).toContain('destroy');
      expect(fx.source).not.toContain('rollback');
    });
  }

  it('a failure while resuming never resumes the source and destroys nothing', async () => {
    const { fx, sent, receiverError } = await resume({ side: 'source', at: 'sendRam' });
    expect((sent as Error).message).toMatch(
      /MIGRATION FAILED IN POST-COPY .*kept paused as 'web--migratedaway'/,
    );
    expect(fx.source).not.toContain('rollback');
    expect(fx.source).not.toContain('destroy');
    expect(fx.destination).not.toContain('destroy');
    expect((receiverError as Error).message).toMatch(/post-copy broke/);
  });

  it('a post-copy holds the recovery monitor from before phase 3; a break arms the recovery', async () => {
    const ok = await resume(undefined, 'direct', false);
    expect(ok.receiverError).toBeUndefined();
    expect(ok.fx.destination.indexOf('holdRecovery')).toBeLessThan(ok.fx.destination.indexOf('listenRam'));
    expect(ok.fx.destination).not.toContain('armRecovery');
    const broken = await resume({ side: 'source', at: 'sendRam' }, 'direct', false);
    expect(broken.fx.destination).toContain('armRecovery');
    expect(broken.fx.destination).not.toContain('destroy');
    expect((broken.receiverError as Error).message).toMatch(
      /post-copy broke .*nothing destroyed; complete it with 'xl migrate --resume web HOST' on the source/,
    );
  });

  it('a cut before the destination loaded the device state: its QEMU exited, the line says the guest never ran there', async () => {
    const { fx, sent, receiverError } = await resume({ side: 'link', at: 'postcopy-early' }, 'direct', false);
    expect((sent as Error).message).toMatch(
      /MIGRATION FAILED IN POST-COPY .*kept paused as 'web--migratedaway'/,
    );
    expect(fx.source).not.toContain('rollback');
    expect(fx.source).not.toContain('destroy');
    const said = (receiverError as Error).message;
    expect(said).toMatch(
      /post-copy broke .*its QEMU here exited before the guest ever ran here \(no RESUME\), so nothing of it is left here: the whole guest is the source's paused copy 'web--migratedaway'/,
    );
    expect(said).not.toMatch(/stays on this host/);
  });

  it('refused when the source has no paused post-copy', async () => {
    const { fx, sent } = await resume({ side: 'source', at: 'open' });
    expect((sent as Error).message).toMatch(/injected failure: open/);
    expect(fx.destination).toEqual([]);
    expect(fx.source).not.toContain('rollback');
  });
});
