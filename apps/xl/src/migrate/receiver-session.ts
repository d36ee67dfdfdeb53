/**
 * One migration as the receiving side sees it: its settings, its host (DestinationPort), the
 * participants the sender's requirements brought in, and what each phase produced. The phase
 * steps (receiver-phases.ts) fill it in; the completion path (receiver-completion.ts) reads it.
 */
import type { Writable } from 'node:stream';
import type { ByteInput, DomainInfo, RamEndpoint } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import type { ReceiverLink } from '../link/handshake.js';
import type { DestinationPort, DirectAddress } from './destination-port.js';

/** Where the incoming QEMU listens for the source QEMU (direct transport), and its verdict. */
export interface DirectListening {
  endpoint: RamEndpoint;
  completed: Promise<{ status: string }>;
}

/** A part of the migration with work on this side in several phases (the `-q` disk mirror). */
export interface ReceiverParticipant {
  /** What the host check looks at, and the config QEMU starts with (the mirror's targets). */
  adjust?(
    info: DomainInfo,
    config: DomainConfig,
  ): { check: { info: DomainInfo; config: DomainConfig }; config: DomainConfig };
  /** Files this part creates before QEMU starts (recorded with the domain first). */
  readonly created?: string[];
  /** Runs once the record exists, before QEMU starts. */
  prepare?(): Promise<void>;
  /** Bootstrap, QEMU up, before PHASE_READY 1 (e.g. NBD exports, DISK_EXPORTS). */
  started?(s: ReceiverSession): Promise<void>;
  /** The mirror phase. */
  mirror?(s: ReceiverSession): Promise<void>;
  /** Post-copy: before the guest runs here with part of its RAM still to come. */
  beforeRun?(s: ReceiverSession): Promise<void>;
  /** QEMU completed the incoming migration, before the domain can resume. */
  afterRam?(s: ReceiverSession): Promise<void>;
  /** GO came and the domain is ours: nothing of this part is undone any more. */
  commit?(): void;
  /** Before GO, or a failed take-over, after QEMU is gone: remove what this part created. */
  rollback?(): Promise<void>;
}

/** Joins once the sender's hello and DOMAIN_INFO are known; undefined when not needed. */
export type JoinReceiver = (s: ReceiverSession) => Promise<ReceiverParticipant | undefined>;

export interface ReceiverSettings {
  input: ByteInput;
  output: Writable;
  /** Leave the domain paused after the switch-over (-p). */
  paused: boolean;
  /** Diagnostics (our stderr, which the sender forwards). */
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Where a direct RAM transport listens (from how the sender reached us). */
  direct: DirectAddress;
  /** The features this receiver offers in its hello (default: all it has). */
  features?: readonly string[];
}

export interface ReceiverSession {
  readonly settings: ReceiverSettings;
  readonly dest: DestinationPort;
  readonly join: readonly JoinReceiver[];
  participants: ReceiverParticipant[];
  link?: ReceiverLink;
  config?: DomainConfig;
  info?: DomainInfo;
  /** The direct transport's listener, begun in bootstrap when nothing comes before phase 3. */
  listening?: Promise<DirectListening>;
  /** GO arrived: from here the sender never resumes on its own. */
  goReceived: boolean;
  /** The domain runs (or waits, -p) here under its own name. */
  taken: boolean;
  /** It was taken at POSTCOPY_GO: the guest ran here before all its RAM arrived. */
  postcopy: boolean;
}
