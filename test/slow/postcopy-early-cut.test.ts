// End to end: the pipe of a post-copy migration cut right after POSTCOPY_GO, before the
// destination QEMU loaded the device state (real QEMU 7.2, TCG, same host). That QEMU exits
// ("loadvm failed") with the guest never run there; the source QEMU, in postcopy-paused, still
// holds the whole guest but 7.2 lets nothing resume it. xl must say just that: nothing claimed
// on B, the copy on A kept paused, never resumed. Slow (a boot, a pass at 8 MiB/s):
// `npm run test:slow`.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { expect, it } from 'vitest';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import { cleanupAfterEach, tempDir, track } from '../helpers/index.js';
import { repoRoot } from '../helpers/paths.js';
import { qmpCommand } from '../helpers/qmp-raw.js';
import {
  domainDir,
  guestConfig,
  records,
  startMigrate,
  until,
  waitForBeatAbove,
  XL,
  xlHost,
} from '../xl-rig.js';
import { readPids } from '../faults/inject.js';

cleanupAfterEach();

const PIPE = path.join(repoRoot, 'test', 'faults', 'pipe-fault.mjs');
/** Dirtying faster than the link: pre-copy never converges, post-copy after one pass. */
const WORKLOAD = '"console=ttyS0 quiet xlkit.dirty=16 xlkit.dirtymb=32"';

it('a pipe cut before the destination loaded the device state: B claims nothing, A kept paused, both say so', async () => {
  const a = xlHost('pe-a-');
  const b = xlHost('pe-b-');
  const cfg = await guestConfig(a.dir, 'pe1', { extra: WORKLOAD });
  expect((await a.xl('create', cfg)).exitCode).toBe(0);
  await waitForBeatAbove(a, 'pe1', 2);
  const [source] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  const qmpA = path.join(domainDir(a, 'pe1'), 'qmp.sock');

  // The relay stops itself right after POSTCOPY_GO (the package QEMU writes after it is not
  // relayed yet), then dies as a dropped ssh would.
  const ctl = tempDir('pe-ctl-');
  const wrapper = ['node', PIPE, '--xl', XL, '--ctl', ctl, '--at', 'POSTCOPY_GO', '--do', 'hold'].join(' ');
  const args = ['--bandwidth', '8', '--postcopy', '--postcopy-after', '1', '-s', wrapper, 'pe1', b.stateDir];
  const child = startMigrate(a, args);
  const pids = await until(
    'the pipe',
    () => (existsSync(path.join(ctl, 'pids.json')) ? readPids(ctl) : undefined),
    60_000,
    50,
  );
  const stop = () => {
    for (const p of [pids.wrapper, pids.receiver]) if (isProcessAlive(p)) process.kill(p, 'SIGKILL');
  };
  track({ label: 'the pipe of pe1', run: async () => stop(), runSync: stop });
  await until(
    'POSTCOPY_GO relayed',
    () => (existsSync(path.join(ctl, 'held')) ? true : undefined),
    300_000,
    50,
  );
  process.kill(pids.wrapper, 'SIGKILL');

  const cut = await child;
  expect(cut.exitCode).toBe(1);
  const said = String(cut.stderr);
  expect(said).toMatch(
    /xl: MIGRATION FAILED IN POST-COPY .*kept paused as 'pe1--migratedaway' \(id \d+\) and will not be resumed/,
  );
  // The receiver's line (relayed before the cut closed its stderr): no claim that it runs on B.
  await until('the receiver to end', () => (isProcessAlive(pids.receiver) ? undefined : true), 30_000, 50);
  expect(said).toMatch(
    /post-copy broke .*its QEMU here exited before the guest ever ran here \(no RESUME\), so nothing of it is left here: the whole guest is the source's paused copy 'pe1--migratedaway'/,
  );
  expect(said).not.toMatch(/stays on this host/);
  expect(records(b.stateDir)).toEqual([]);

  // A: nothing destroyed, never resumed; QEMU 7.2 keeps it in postcopy-paused and refuses `cont`.
  expect(isProcessAlive(source!.qemu!.pid)).toBe(true);
  const [paused] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  expect(paused).toMatchObject({ name: 'pe1--migratedaway' });
  expect(paused!.status).not.toBe('running');
  expect(await qmpCommand(qmpA, 'query-migrate')).toMatchObject({ status: 'postcopy-paused' });
  expect(await qmpCommand(qmpA, 'query-status')).toMatchObject({ running: false });
  await expect(qmpCommand(qmpA, 'cont')).rejects.toThrow(/Migration is not finalized yet/);
}, 600_000);
