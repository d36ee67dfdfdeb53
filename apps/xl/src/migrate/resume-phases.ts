/**
 * `xl migrate --resume DOMAIN HOST`: a post-copy that a broken link paused (both QEMUs in
 * postcopy-paused, the guest running at the destination, nothing destroyed) is completed over a
 * new pipe. The sender walks handshake -> ram -> switchover -> cleanup: the handshake requires
 * `postcopy-resume`, the receiver adopts the domain it already runs (no bootstrap, no mirror)
 * and answers PHASE_READY 1, and phase 3 reconnects the two QEMUs (the stream goes into the
 * listener the receiver armed with `migrate-recover` at the break, ram/postcopy-recovery.ts;
 * `migrate resume=true` here), relayed or direct. The session starts past the point of no return: the source is never
 * resumed, whatever happens.
 */
import { waitPhaseReady } from '../link/back-channel.js';
import { senderHandshake } from '../link/handshake.js';
import { Feature } from '../link/protocol.js';
import { raced } from '../raced.js';
import { type PhaseStep } from './phases.js';
import { SENDER_PHASES } from './sender-phases.js';
import type { SenderSession } from './sender-session.js';

async function handshake(s: SenderSession): Promise<void> {
  const signal = s.failure.signal;
  await raced(s.source.openPaused(), signal);
  s.peer = s.source.connect();
  const requires = [
    Feature.POSTCOPY_RESUME,
    Feature.POSTCOPY,
    // Across hosts the receiver's TCP port takes only TLS-PSK with a key fresh for this resume
    // (ram/recovery-forwarder.ts); the first migration's key is gone on both hosts.
    ...(s.settings.ramTransport === 'direct' ? [Feature.DIRECT_RAM, Feature.DIRECT_TLS] : []),
  ];
  s.link = await raced(
    senderHandshake({ input: s.peer.input, output: s.peer.output, config: s.config, requires }),
    signal,
  );
  s.stages.event('negotiated', {
    version: s.link.agreement.version,
    features: s.link.agreement.features,
    receiver: s.link.peer.software,
  });
  // Only once the receiver found the domain with its recovery armed does the source QEMU get
  // `migrate resume=true`: QEMU 7.2 leaves a source whose resume finds no destination in
  // postcopy-recover for good (its return path pauses without waking the migration thread).
  await raced(waitPhaseReady(s.link.back, 1), signal);
}

function step(phase: 'ram' | 'switchover' | 'cleanup'): PhaseStep<SenderSession> {
  const found = SENDER_PHASES.find((p) => p.phase === phase);
  if (found === undefined) throw new Error(`no ${phase} step`);
  return found;
}

export const RESUME_PHASES: readonly PhaseStep<SenderSession>[] = [
  { phase: 'handshake', run: handshake },
  step('ram'),
  step('switchover'),
  step('cleanup'),
];
