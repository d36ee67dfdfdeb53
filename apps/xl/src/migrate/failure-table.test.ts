/**
 * link/PROTOCOL.md's failure table, row by row: both phase machines over an in-memory pipe on
 * fake hosts (testing/fake-hosts.ts), a failure injected where the row says, and every column
 * compared with what the machines did. A row without an injection, or an injection without a
 * row, fails too: the table and the code cannot drift apart.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { UsageError, XlError } from '../errors.js';
import { expectPhase } from '../link/forward-records.js';
import { waitPhaseReady } from '../link/back-channel.js';
import { fakePair, type Effects, type FailPoint } from '../testing/fake-hosts.js';
import { runReceiver } from './receive-migration.js';
import type { JoinReceiver } from './receiver-session.js';
import { runSender } from './send-migration.js';
import type { JoinSender } from './sender-session.js';

interface Row {
  phase: string;
  failsOn: string;
  source: string;
  receiver: string;
  exit: string;
  says: string;
}

function tableRows(): Row[] {
  const md = readFileSync(fileURLToPath(new URL('../link/PROTOCOL.md', import.meta.url)), 'utf8');
  const from = md.indexOf('## Phases and failures');
  const to = md.indexOf('\n## ', from + 1);
  const section = md.slice(from, to < 0 ? undefined : to);
  return section
    .split('\n')
    .filter((l) => l.startsWith('| ') && !l.startsWith('| phase') && !l.startsWith('|---'))
    .map((l) =>
      l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim()),
    )
    .map(([phase = '', failsOn = '', source = '', receiver = '', exit = '', says = '']) => ({
      phase,
      failsOn,
      source,
      receiver,
      exit,
      says,
    }));
}

/** A mirror phase on both sides that only exchanges PHASE 2 and PHASE_READY 2, or fails first. */
function mirrorJoins(failOn: 'sender' | 'receiver' | undefined): {
  senderJoin: JoinSender[];
  receiverJoin: JoinReceiver[];
} {
  const boom = () => Object.assign(new Error('injected failure: mirror'), { code: 'XL_MIGRATION' });
  return {
    senderJoin: [
      async () => ({
        requires: [],
        async mirror(s) {
          if (failOn === 'sender') throw boom();
          await s.link!.writer.writePhase(2);
          await waitPhaseReady(s.link!.back, 2);
        },
      }),
    ],
    receiverJoin: [
      async () => ({
        async mirror(s) {
          await expectPhase(s.link!.forward, 2);
          if (failOn === 'receiver') throw boom();
          await s.link!.writer.writeRecord('PHASE_READY', { phase: 2 });
        },
      }),
    ],
  };
}

type Setup = {
  fail?: FailPoint;
  mirror?: 'sender' | 'receiver' | 'none';
  receiverFeatures?: string[];
  /** Direct RAM transport with post-copy after the first pass. */
  postcopy?: true;
};

/** Where each row's failure is injected. */
const INJECTIONS: Record<string, Setup> = {
  'handshake|sender': { fail: { side: 'source', at: 'open' } },
  'handshake|receiver': { receiverFeatures: [] },
  'bootstrap|sender': { fail: { side: 'source', at: 'setStatus:migrating' } },
  'bootstrap|receiver': { fail: { side: 'destination', at: 'start' } },
  'mirror|sender': { mirror: 'sender' },
  'mirror|receiver': { mirror: 'receiver' },
  'ram|sender': { fail: { side: 'source', at: 'sendRam' } },
  'ram|receiver': { fail: { side: 'destination', at: 'receiveRam' } },
  'ram|sender, in post-copy': { postcopy: true, fail: { side: 'source', at: 'sendRam' } },
  'ram|receiver, in post-copy': { postcopy: true, fail: { side: 'destination', at: 'postcopy-qemu' } },
  'ram|the link, in post-copy, QEMU not answering': {
    postcopy: true,
    fail: { side: 'link', at: 'postcopy' },
  },
  'ram|the link, in post-copy, before the device state loaded': {
    postcopy: true,
    fail: { side: 'link', at: 'postcopy-early' },
  },
  'switchover|sender, before GO': { fail: { side: 'source', at: 'setStatus:migrated-away' } },
  'switchover|receiver, after GO': { fail: { side: 'destination', at: 'takeOver' } },
  'switchover|receiver, GO garbled on the way': { fail: { side: 'link', at: 'go' } },
  'switchover|receiver, after GO, its copy not stopped': {
    fail: { side: 'destination', at: 'takeOver+destroy' },
  },
  'switchover|receiver, after GO, its copy ran on shared RAM': {
    fail: { side: 'destination', at: 'takeOver:ran-shared' },
  },
  'switchover|receiver gone, after GO': { fail: { side: 'destination', at: 'takeOver:die' } },
  'cleanup|sender': { fail: { side: 'source', at: 'destroy' } },
  '-|nothing': { mirror: 'none' },
};

const exitOf = (err: unknown): string =>
  err === undefined
    ? '0'
    : err instanceof UsageError
      ? '2'
      : err instanceof XlError || (err as { code?: string }).code !== undefined
        ? '1'
        : 'bug';

function sourceEnds(fx: Effects): string {
  if (fx.source.includes('rollback')) return 'resumed';
  if (fx.source.includes('destroy')) return 'destroyed';
  return fx.source.includes('migrated-away') ? 'kept paused' : 'untouched';
}

function receiverEnds(fx: Effects, started: boolean, settled: boolean): string {
  if (!started) return 'not started';
  if (!settled) return 'gone';
  if (!fx.destination.includes('start')) return 'nothing created';
  if (fx.destination.includes('destroy')) return 'removed';
  if (fx.destination.includes('exited')) return 'its QEMU exited, never ran';
  if (fx.destination.includes('takeOver')) return 'runs the domain';
  return fx.destination.includes('keep') ? 'kept for --resume' : 'kept, not running';
}

async function walkRow(setup: Setup) {
  const fx: Effects = { source: [], destination: [] };
  const joins =
    setup.mirror === undefined ? {} : mirrorJoins(setup.mirror === 'none' ? undefined : setup.mirror);
  let receiverError: unknown;
  let receiverSettled = false;
  const pair = fakePair(
    fx,
    setup.fail,
    (r) =>
      runReceiver(r).then(
        () => void (receiverSettled = true),
        (err: unknown) => void ((receiverError = err), (receiverSettled = true)),
      ),
    {
      ...joins,
      ...(setup.receiverFeatures ? { receiverFeatures: setup.receiverFeatures } : {}),
      ...(setup.postcopy ? { ramTransport: 'direct' as const, postcopy: { afterPasses: 1 } } : {}),
    },
  );
  let senderError: unknown;
  await runSender(pair.sender).catch((err: unknown) => (senderError = err));
  const received = pair.received();
  if (received) await Promise.race([received, new Promise((r) => setTimeout(r, 200))]);
  const receiverExit = received === undefined || !receiverSettled ? '-' : exitOf(receiverError);
  return {
    source: sourceEnds(fx),
    receiver: receiverEnds(fx, received !== undefined, receiverSettled),
    exit: `${exitOf(senderError)} / ${receiverExit}`,
    says: senderError === undefined ? '-' : (senderError as Error).message,
  };
}

describe('the failure table in link/PROTOCOL.md', () => {
  const rows = tableRows();

  it('has a row for every injection and an injection for every row', () => {
    expect(rows.map((r) => `${r.phase}|${r.failsOn}`).sort()).toEqual(Object.keys(INJECTIONS).sort());
  });

  for (const row of rows) {
    it(`${row.phase}, fails on ${row.failsOn}: source ${row.source}, receiver ${row.receiver}, exit ${row.exit}`, async () => {
      const setup = INJECTIONS[`${row.phase}|${row.failsOn}`];
      expect(setup, 'an injection for this row').toBeDefined();
      const got = await walkRow(setup!);
      expect({ source: got.source, receiver: got.receiver, exit: got.exit }).toEqual({
        source: row.source,
        receiver: row.receiver,
        exit: row.exit,
      });
      if (row.says === '-') expect(got.says).toBe('-');
      else expect(got.says).toContain(row.says);
    });
  }
});
