// The fault matrix: every fault × every phase of a migration, each cell either run (how the
// fault is reached, what the outcome must be) or listed with the reason it cannot be.
// link/PROTOCOL.md's failure table is what the outcomes follow.

export const FAULTS = [
  'receiver SIGKILL',
  'receiver QEMU SIGKILL',
  'source QEMU SIGKILL',
  'sender SIGINT',
  'sender SIGKILL',
  'pipe cut',
  'byte corrupted',
  'NBD dropped',
  'ENOSPC on destination',
  'state dir unwritable',
] as const;
/** Issue 25's `xl upgrade` (same host, one process): its own faults, in its own phases. */
export const UPGRADE_FAULTS = ['new QEMU SIGKILL', 'upgrade SIGINT', 'upgrade SIGKILL'] as const;
export type Fault = (typeof FAULTS)[number] | (typeof UPGRADE_FAULTS)[number];

export const PHASES = ['handshake', 'phase 1', 'phase 2', 'phase 3', 'after go', 'post-copy'] as const;
export type Phase = (typeof PHASES)[number] | 'upgrade, before GO' | 'upgrade, after it ran';

/** Where in the forward stream the pipe wrapper acts (pipe-fault.mjs --at / --after / --do). */
export interface PipePoint {
  at: string;
  after?: string;
  /** Hold before relaying the record instead of after it. */
  before?: boolean;
  /** For byte corrupted: the body byte flipped. */
  corruptByte?: number;
}

/** Where the guest must end up. */
export type Where =
  /** Exactly one copy, on the source, as before. */
  | 'source'
  /** The fault killed the only copy: none runs, nothing is left. */
  | 'none'
  /** After GO: at most one copy runs; the source copy, if any, is kept paused as NAME--migratedaway. */
  | 'past-go'
  /** Post-copy broken: the source kept paused, the destination keeps its copy (both may wait). */
  | 'post-copy';

export interface Cell {
  fault: Fault;
  phase: Phase;
  /** Why the cell cannot be run, when it cannot. */
  impossible?: string;
  point?: PipePoint;
  where?: Where;
  /** The sender's one line (exit 1), or null when the sender was killed (no line of its own). */
  message?: RegExp | null;
  /** Also accepted: the fault missed its moment and the migration completed. */
  mayComplete?: boolean;
  /** Runs in `npm test` (the rest only in `npm run test:faults`). */
  ci?: boolean;
  /** What the next xl command on the destination must say (its reaping). */
  nextOnB?: RegExp;
  /** An upgrade cell: the in-process hook that places it (XLKIT_FAULT), and the signal sent there. */
  upgrade?: { hook: string; signal?: 'SIGINT' | 'SIGKILL' };
}

/** The hold point of each phase (pipe faults, kills, full and read-only file systems). */
const HOLD: Record<(typeof PHASES)[number], PipePoint> = {
  handshake: { at: 'MIGRATION_HELLO', before: true },
  'phase 1': { at: 'DOMAIN_INFO' },
  'phase 2': { at: 'TUNNEL_DATA:4' },
  'phase 3': { at: 'RAM_CHUNK:3' },
  'after go': { at: 'GO' },
  'post-copy': { at: 'RAM_CHUNK:2', after: 'POSTCOPY_GO' },
};

/** The byte flipped in each phase: a JSON body's `{`, RAM payload (after its 24-byte header), NBD data. */
const CORRUPT: Record<(typeof PHASES)[number], PipePoint> = {
  handshake: { at: 'MIGRATION_HELLO', corruptByte: 0 },
  'phase 1': { at: 'DOMAIN_INFO', corruptByte: 0 },
  'phase 2': { at: 'TUNNEL_DATA:4', corruptByte: 4096 },
  'phase 3': { at: 'RAM_CHUNK:3', corruptByte: 100 },
  'after go': { at: 'GO', corruptByte: 0 },
  'post-copy': { at: 'RAM_CHUNK:2', after: 'POSTCOPY_GO', corruptByte: 100 },
};

const SHORT: Record<(typeof PHASES)[number], string> = {
  handshake: 'handshake',
  'phase 1': 'bootstrap',
  'phase 2': 'mirror',
  'phase 3': 'ram',
  'after go': 'switchover',
  'post-copy': 'ram',
};

const stillHere = "; the domain '[^']+' still runs on this host";
const failedIn = (phases: string, why = '.*') =>
  new RegExp(`^xl: migration to .* failed in (${phases}): ${why}${stillHere}$`);
const PAST_GO =
  /^xl: (MIGRATION FAILED AFTER THE POINT OF NO RETURN|migration to .* failed at the switch-over)/;
const POST_COPY = /^xl: MIGRATION FAILED IN POST-COPY/;
const RELEASED =
  /^xl: migration to .* failed at the switch-over: the receiver could not take the domain and destroyed its copy; the domain '[^']+' runs on this host again$/;

function cellFor(fault: (typeof FAULTS)[number], phase: (typeof PHASES)[number]): Cell {
  const cell: Cell = { fault, phase };
  const none = (why: string): Cell => ({ ...cell, impossible: why });
  const beforeGo = phase !== 'after go' && phase !== 'post-copy';
  const where: Where = phase === 'after go' ? 'past-go' : phase === 'post-copy' ? 'post-copy' : 'source';
  const message = beforeGo ? failedIn(`${SHORT[phase]}|[a-z]+`) : phase === 'post-copy' ? POST_COPY : PAST_GO;
  const base: Cell = { ...cell, point: HOLD[phase], where, message, mayComplete: !beforeGo };
  switch (fault) {
    case 'receiver QEMU SIGKILL':
      if (phase === 'handshake') return none('the receiver starts no QEMU before phase 1');
      return base;
    case 'source QEMU SIGKILL':
      // The guest's only copy before GO: nothing may run afterwards, nothing may be left.
      return beforeGo
        ? { ...base, where: 'none', message: /^xl: / }
        : { ...base, message: phase === 'post-copy' ? POST_COPY : /^xl: / };
    case 'sender SIGINT':
      // After GO Ctrl-C is ignored: the migration completes.
      if (!beforeGo)
        return {
          ...base,
          where: phase === 'post-copy' ? 'post-copy' : 'past-go',
          message: undefined,
          mayComplete: true,
        };
      return { ...base, message: failedIn('[a-z]+', 'interrupted') };
    case 'sender SIGKILL':
      return { ...base, message: null };
    case 'byte corrupted':
      // Phase 2's byte lands in a TUNNEL_DATA payload (NBD traffic): its crc32 catches it.
      if (phase === 'phase 2')
        return {
          ...base,
          point: CORRUPT[phase],
          message: failedIn(
            'mirror',
            'the receiver failed \\(phase 2\\): .*STREAM_CHECKSUM.*tunnel data crc32.*',
          ),
        };
      return { ...base, point: CORRUPT[phase] };
    case 'NBD dropped':
      if (phase !== 'phase 2')
        return none(
          phase === 'phase 3'
            ? 'the mirror still runs in phase 3, but the only way to drop its NBD connection (the in-process nbd-drop hook) counts bytes, which land in phase 2'
            : 'no NBD connection exists in this phase (the mirror runs in phases 2-3 of -q only)',
        );
      return { ...base, point: undefined };
    case 'ENOSPC on destination':
    case 'state dir unwritable':
      // The receiver's first write is its record in phase 1: hold before DOMAIN_INFO reaches it.
      if (phase === 'phase 1') return { ...base, point: { at: 'DOMAIN_INFO', before: true } };
      // Nothing but tidying is written while RAM comes: the take-over after GO is the first
      // write that fails; the receiver stops its QEMU and releases the sender, whose copy runs on.
      if (phase === 'phase 3') return { ...base, where: 'past-go', message: RELEASED };
      return base;
    default:
      return base;
  }
}

/**
 * The cells `npm test` runs (the rest: `npm run test:faults`), with their exact words: these
 * replace the fault tests each migration issue brought (consolidated here).
 */
const CI: ReadonlyArray<[Fault, Phase, Partial<Cell>]> = [
  // Not 'receiver SIGKILL' x 'phase 1': phase 1 of a plain migration is so short that the kill,
  // aimed from outside, landed in phase 3 on a clean-clone run; it stays in test:faults.
  [
    'receiver SIGKILL',
    'phase 3',
    { message: failedIn('ram', 'the receiver closed the connection while it received the domain') },
  ],
  ['sender SIGINT', 'phase 3', { message: failedIn('ram', 'interrupted') }],
  ['sender SIGKILL', 'phase 3', {}],
  [
    'byte corrupted',
    'phase 3',
    { message: failedIn('ram|switchover', 'the receiver failed \\(phase 3\\): .*STREAM_CHECKSUM.*') },
  ],
];

/**
 * `xl upgrade`'s cells (PROTOCOL.md, "xl upgrade"), placed by its in-process hooks: nothing
 * outside one process can stop it at a known point. The cell's guest does not share its RAM,
 * so a new QEMU that dies after it ran takes the guest with it (it had handed over).
 */
/** An upgrade's rollback names its two QEMUs (sender-completion.ts), not a host. */
const stillOnOldQemu = "; the domain '[^']+' still runs on QEMU \\d+\\.\\d+\\.\\d+";
const upgradeFailed = 'xl: upgrade to QEMU \\d+\\.\\d+\\.\\d+ failed in [a-z]+';

const UPGRADE: Cell[] = [
  {
    fault: 'new QEMU SIGKILL',
    phase: 'upgrade, before GO',
    upgrade: { hook: 'upgrade-kill:started' },
    where: 'source',
    message: new RegExp(`^${upgradeFailed}: .*${stillOnOldQemu}$`),
  },
  {
    fault: 'new QEMU SIGKILL',
    phase: 'upgrade, after it ran',
    upgrade: { hook: 'upgrade-kill:ran' },
    where: 'none',
    message: /^xl: the new QEMU took the domain over but /,
  },
  {
    fault: 'upgrade SIGINT',
    phase: 'upgrade, before GO',
    upgrade: { hook: 'sender-stall:before-go', signal: 'SIGINT' },
    where: 'source',
    message: new RegExp(`^${upgradeFailed}: interrupted${stillOnOldQemu}$`),
  },
  {
    fault: 'upgrade SIGKILL',
    phase: 'upgrade, before GO',
    upgrade: { hook: 'sender-stall:before-go', signal: 'SIGKILL' },
    where: 'source',
    message: null,
  },
];

export const MATRIX: Cell[] = [
  ...FAULTS.flatMap((f) =>
    PHASES.map((p) => {
      const ci = CI.find(([cf, cp]) => cf === f && cp === p);
      return ci ? { ...cellFor(f, p), ...ci[2], ci: true } : cellFor(f, p);
    }),
  ),
  ...UPGRADE,
];

export const cellName = (c: Cell): string => `${c.fault} × ${c.phase}`;
