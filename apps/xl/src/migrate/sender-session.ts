/**
 * One migration as the sending side sees it: its options, its host (SourcePort), the
 * participants that joined, and what each phase produced for the next. The phase steps
 * (sender-phases.ts) fill it in; the completion path (sender-completion.ts) reads it.
 */
import type { DomainInfo, StreamRecord } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import type { ByteChannel } from '../link/byte-channel.js';
import type { SenderLink } from '../link/handshake.js';
import type { ProgressReporter } from '../progress/reporter.js';
import type { Peer, RamSent, SourcePort } from './source-port.js';
import type { SourceBefore } from './source-rollback.js';
import type { Stages } from './stages.js';

/**
 * A part of the migration with work in several phases (the `-q` disk mirror; post-copy and
 * live upgrade join the same way). Every hook is optional; the sender calls them in this order.
 */
export interface SenderParticipant {
  /** Features the receiver must have for this part. */
  readonly requires: readonly string[];
  /** Bootstrap, after DOMAIN_INFO: this part's records for the receiver. */
  bootstrap?(s: SenderSession): Promise<void>;
  /** Bootstrap, while waiting for PHASE_READY 1: a back-channel record this part takes. */
  takeBackRecord?(rec: StreamRecord): boolean;
  /** Bootstrap, after PHASE_READY 1. */
  bootstrapped?(s: SenderSession): void;
  /** The mirror phase (a migration has it when some participant does). */
  mirror?(s: SenderSession): Promise<void>;
  /** RAM phase, vCPUs stopped at QEMU's pre-switchover pause, before QEMU inactivates the disks. */
  preSwitchover?(s: SenderSession): Promise<void>;
  /** RAM phase: QEMU sent everything, before the forward stream's END. */
  afterRam?(s: SenderSession): Promise<void>;
  /** Any failure before GO: undo this part's work on the source (before the source resumes). */
  rollback?(s: SenderSession): Promise<void>;
}

/** Joins a migration once the source is open (it may look at the domain info). */
export type JoinSender = (s: SenderSession) => Promise<SenderParticipant>;

export interface SenderSettings {
  host: string;
  /** HOST is the receiver's command (-s ''), not a host name: messages never quote it. */
  hostIsCommand?: boolean;
  /**
   * `xl upgrade`: both ends are QEMUs on this host, named in messages by these words
   * ("QEMU 10.0.2", "QEMU 7.2.22") instead of the peer's host and "this host".
   */
  upgrade?: { to: string; from: string };
  /** -p: the receiver leaves the guest paused (so no pause ends there). */
  paused: boolean;
  maxBandwidth?: number;
  maxDowntimeMs?: number;
  /** Phase 3: RAM relayed through the pipe as verified records (default), or QEMU to QEMU. */
  ramTransport?: 'relay' | 'direct';
  /** Post-copy allowed (--postcopy): after this many passes, this much time, or on request only. */
  postcopy?: { afterPasses?: number; afterSeconds?: number };
  /** `xl migrate --resume`: complete a post-copy a broken link paused (resume-phases.ts). */
  resume?: boolean;
  /**
   * The convergence ladder (convergence-ladder.ts) may throttle the vCPUs of a migration that
   * does not converge (default); false with --no-throttle.
   */
  throttle?: boolean;
  progress: ProgressReporter;
  stderr: NodeJS.WritableStream;
  /** Ctrl-C: honoured until GO, ignored after. */
  signal: AbortSignal;
}

export interface SenderSession {
  readonly settings: SenderSettings;
  readonly config: DomainConfig;
  readonly source: SourcePort;
  readonly stages: Stages;
  readonly join: readonly JoinSender[];
  /** Aborts on Ctrl-C (until GO) and on any failure a concurrent task finds. */
  readonly failure: AbortController;
  readonly before: SourceBefore;
  participants: SenderParticipant[];
  info?: DomainInfo;
  peer?: Peer;
  link?: SenderLink;
  /** The back channel read through the RAM phase, settling at its END. */
  backDone?: Promise<void>;
  ram?: RamSent;
  /** The source QEMU was set up for the RAM phase in bootstrap (SourcePort.prepareRam). */
  prepared?: boolean;
  /** QEMU's downtime figure, asked for after the forward stream's END (QEMU may still be finishing). */
  downtimeQuery?: Promise<number | undefined>;
  /** That figure, settled after the report (undefined when QEMU did not give one). */
  downtimeMs?: number;
  /** The source's record marked migrated-away, begun once QEMU sent everything (awaited before GO). */
  movedAway?: Promise<void>;
  /** When steps of the switch-over happened (wall clock ms): QEMU `sent` everything, `go` written. */
  marks: { sent?: number; go?: number };
  /** The back channel's bytes after its END (xl's ready, report). */
  rest?: ByteChannel;
  /** `xl migrate-postcopy` asked to switch to post-copy now. */
  postcopyRequested: boolean;
  /** QEMU reported postcopy-active: from here the source is never resumed. */
  postcopyActive: boolean;
  /** GO was (or was being) written: from here the source is never resumed on our own. */
  goSent: boolean;
  /** The receiver reported that it runs the domain. */
  taken: boolean;
  /** When the guest's pause ended on the destination (wall clock ms), for pausedMs. */
  resumedAtMs?: number;
}
