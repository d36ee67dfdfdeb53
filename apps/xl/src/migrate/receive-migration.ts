/**
 * The receiving end (`xl migrate-receive`): the session for one incoming migration, walked
 * through the phases (receiver-phases.ts) and finished by the one completion path
 * (receiver-completion.ts). Before GO every failure removes what was created here and is
 * reported to the sender; the incoming domain carries this process's pid so that, should
 * this process die, the next xl command on this host reaps it.
 */
import { directListenHost, senderOnThisHost } from '../host/listen-host.js';
import type { DomainStore } from '../store/domain-store.js';
import { defaultTargetRoot } from '../mirror/target-root.js';
import { joinMirrorReceiver } from './mirror-receiver-participant.js';
import type { DestinationPort } from './destination-port.js';
import { qemuDestination } from './destination-port.js';
import { walkPhases } from './phases.js';
import { completeReceiver, type ReceiveResult } from './receiver-completion.js';
import { RECEIVER_PHASES } from './receiver-phases.js';
import type { ReceiverSession, ReceiverSettings } from './receiver-session.js';

export type { ReceiveResult } from './receiver-completion.js';

/** Decorations applied from outside the flow (src/testing; none in normal use). */
export interface ReceiverInstruments {
  destination?: (port: DestinationPort, at: { signal: AbortSignal | undefined }) => DestinationPort;
  /** The features this receiver offers in its hello (an older xlkit's, say). */
  features?: readonly string[];
}

export interface ReceiveOptions extends Omit<ReceiverSettings, 'features' | 'direct'> {
  env: NodeJS.ProcessEnv;
  /** The only directory `-q` targets may be created in (default: `disks` in the state dir). */
  targetRoot?: string;
  instruments?: ReceiverInstruments;
}

export async function receiveMigration(store: DomainStore, o: ReceiveOptions): Promise<ReceiveResult> {
  const ins = o.instruments ?? {};
  const real = qemuDestination(store);
  const dest = ins.destination ? ins.destination(real, { signal: o.signal }) : real;
  const session: ReceiverSession = {
    settings: {
      ...o,
      direct: { sameHost: senderOnThisHost(o.env), host: directListenHost(o.env) },
      ...(ins.features ? { features: ins.features } : {}),
    },
    dest,
    join: [joinMirrorReceiver(store, o.env, o.targetRoot ?? defaultTargetRoot(store.root))],
    participants: [],
    goReceived: false,
    postcopy: false,
    taken: false,
  };
  return runReceiver(session);
}

/** Walks a receiving session through its phases and completes it (the one path, real or fake hosts). */
export async function runReceiver(session: ReceiverSession): Promise<ReceiveResult> {
  return completeReceiver(session, await walkPhases(session, RECEIVER_PHASES, () => undefined));
}
