/**
 * The completion path's words: a migration names the peer host and "this host"; an upgrade
 * (both ends QEMUs on this host) names the two QEMUs. The fake pair's real phase machines
 * fail where told, as in failure-table.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { fakePair, type Effects, type FailPoint } from '../testing/fake-hosts.js';
import { runReceiver } from './receive-migration.js';
import { runSender } from './send-migration.js';

async function failedLine(fail: FailPoint, upgrade?: { to: string; from: string }): Promise<string> {
  const fx: Effects = { source: [], destination: [] };
  const pair = fakePair(fx, fail, (r) => runReceiver(r), { ramTransport: 'direct' });
  if (upgrade !== undefined) Object.assign(pair.sender.settings, { upgrade });
  const err = await runSender(pair.sender).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  expect(err).toBeDefined();
  return err!.message;
}

const UPGRADE = { to: 'QEMU 10.0.2', from: 'QEMU 7.2.22' };

describe("the sender's failure lines", () => {
  it('an upgrade rolled back names the new and the old QEMU, not a host it was "reached as"', async () => {
    const line = await failedLine({ side: 'destination', at: 'start' }, UPGRADE);
    expect(line).toMatch(
      /^upgrade to QEMU 10\.0\.2 failed in bootstrap: .*injected failure: start; the domain 'web' still runs on QEMU 7\.2\.22$/,
    );
    expect(line).not.toMatch(/reached as|this host/);
  });

  it('a migration rolled back names the peer host and this one', async () => {
    const line = await failedLine({ side: 'destination', at: 'start' });
    expect(line).toMatch(
      /^migration to this host \(\S+, reached as fake-host\) failed in bootstrap: .*; the domain 'web' still runs on this host$/,
    );
  });

  it('an upgrade the new QEMU released at the switch-over runs on the old QEMU again', async () => {
    const line = await failedLine({ side: 'destination', at: 'takeOver' }, UPGRADE);
    expect(line).toBe(
      "upgrade to QEMU 10.0.2 failed at the switch-over: the receiver could not take the domain and destroyed its copy; the domain 'web' runs on QEMU 7.2.22 again",
    );
  });

  it('an upgrade whose old QEMU could not be removed says where the domain runs, and what is left', async () => {
    const line = await failedLine({ side: 'source', at: 'destroy' }, UPGRADE);
    expect(line).toBe(
      "domain 'web' now runs on QEMU 10.0.2, but removing its paused copy 'web--migratedaway' on QEMU 7.2.22 failed: injected failure: destroy",
    );
  });
});
