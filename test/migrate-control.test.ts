// End to end: a running `xl migrate` controlled from another shell (real QEMU, TCG): `xl
// migrate-status` reads its progress through the control socket, `xl migrate-abort` rolls it
// back; the source runs on, untouched, and nothing is left on the receiving side.
import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { DomainView } from '@xlkit/xl';
import { guestConfig, records, sameHostReceiver, startMigrate, waitForBeatAbove, xlHost } from './xl-rig.js';
import { cleanupAfterEach } from './helpers/index.js';
import { expectReceiverClean, expectSourceIntact, statusInRam } from './migrate-checks.js';

cleanupAfterEach();

describe('xl migrate-status and xl migrate-abort (real QEMU)', () => {
  it('reads a running migration from another process, aborts it before GO, the source runs on', async () => {
    const a = xlHost('mctl-a-');
    const b = xlHost('mctl-b-');
    const created = await a.xl('create', await guestConfig(a.dir, 'mc1'));
    expect(created.exitCode, created.stderr).toBe(0);
    const beat = (await waitForBeatAbove(a, 'mc1', 2)).at(-1)!;
    const pid = (JSON.parse((await a.xl('list', '--json', 'mc1')).stdout) as DomainView[])[0]!.qemu!.pid;

    // 8 MiB/s: the 128 MiB guest's RAM takes long enough to look at and to abort.
    const child = startMigrate(a, ['--bandwidth', '8', '-s', '', 'mc1', sameHostReceiver(b)]);
    const status = await statusInRam(a, 'mc1');
    expect(status).toMatchObject({ domain: 'mc1', phase: 'ram', abortable: true, aborted: false });
    expect(status.elapsed as number).toBeGreaterThan(0);
    const human = await a.xl('migrate-status', 'mc1');
    expect(human.exitCode, human.stderr).toBe(0);
    expect(human.stdout).toMatch(/^migrate mc1 to .*: phase ram, .* MiB\/s, .* s elapsed$/);

    const abort = await a.xl('migrate-abort', 'mc1');
    expect(abort.exitCode, abort.stderr).toBe(0);
    const r = await child;
    expect(r.exitCode).toBe(1);
    const lines = String(r.stderr)
      .split('\n')
      .filter((l) => l.startsWith('xl: '));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^xl: migration to .* failed in ram: aborted by xl migrate-abort; the domain 'mc1' still runs on this host$/,
    );

    const after = await a.xl('migrate-status', 'mc1');
    expect(after).toEqual({
      exitCode: 1,
      stdout: '',
      stderr:
        "xl: domain 'mc1' is not migrating (its status is running; no xl migrate answers on its control socket)",
    });
    const sourceId = records(a.stateDir)[0]!.id;
    expect(existsSync(path.join(a.stateDir, 'domains', String(sourceId), 'migrate-control.sock'))).toBe(
      false,
    );
    await expectReceiverClean(b);
    await expectSourceIntact(a, 'mc1', pid, beat);
  });
});
