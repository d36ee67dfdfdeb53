/**
 * The migration as an explicit phase machine. Both sides walk the same phases in order; each
 * step is a function over that side's session, and where the walk stopped (the phase reached,
 * whether GO went out, whether the other side took or released the domain) is what the
 * completion path decides from: roll back or keep. link/PROTOCOL.md's failure table lists
 * every case.
 *
 *   handshake -> bootstrap -> mirror (-q only) -> ram -> switchover -> cleanup
 */
export const PHASES = ['handshake', 'bootstrap', 'mirror', 'ram', 'switchover', 'cleanup'] as const;
export type Phase = (typeof PHASES)[number];

export interface PhaseStep<S> {
  phase: Phase;
  run(session: S): Promise<void>;
  /** A phase this migration does not have (mirror without -q). */
  skip?(session: S): boolean;
}

export type Walk = { ok: true } | { ok: false; phase: Phase; error: unknown };

/**
 * Runs the steps in order, announcing each phase it enters; stops at the first failure and
 * says in which phase it happened. Never throws: the completion path takes it from there.
 */
export async function walkPhases<S>(
  session: S,
  steps: readonly PhaseStep<S>[],
  enter: (phase: Phase) => void,
): Promise<Walk> {
  let phase: Phase = 'handshake';
  try {
    for (const step of steps) {
      if (step.skip?.(session) === true) continue;
      phase = step.phase;
      enter(phase);
      await step.run(session);
    }
    return { ok: true };
  } catch (error) {
    return { ok: false, phase, error };
  }
}

/** A session field an earlier phase fills in; its absence is a bug in the phase order. */
export function required<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`migration session: ${what} is missing (a phase ran out of order)`);
  return v;
}
