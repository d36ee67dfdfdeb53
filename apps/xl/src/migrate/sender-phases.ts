/**
 * The sending side's phases, each a step over the session (sender-session.ts). A step throws
 * to stop the walk; it never cleans up after itself: sender-completion.ts decides, from the
 * phase reached and whether GO went out, what to undo.
 */
import type { RamEndpoint, StreamRecord } from '@xlkit/stream';
import type { MigrationProgress } from '@xlkit/qmp';
import type { RamProgress } from '../ram/outgoing.js';
import type { PostcopyHooks } from '../ram/postcopy-switch.js';
import { ReturnPathSink } from '../ram/return-path.js';
import { waitBackEnd, waitPhaseReady } from '../link/back-channel.js';
import { ByteChannel } from '../link/byte-channel.js';
import { senderHandshake } from '../link/handshake.js';
import { Feature, ramRequires } from '../link/protocol.js';
import { expectReady, readReport, sendGo } from '../link/switchover.js';
import { errorMessage, XlError } from '../errors.js';
import { RamCredit } from '../ram/ram-credit.js';
import { armParameters, ladderPolicyOf, startLadder } from './ladder-driver.js';
import { raced } from '../raced.js';
import { required, type PhaseStep } from './phases.js';
import type { SenderSession } from './sender-session.js';

/** The receiver could not take the domain, destroyed its copy and released the source (GO echoed). */
export class ReleasedByReceiver extends XlError {
  override name = 'ReleasedByReceiver';
  constructor() {
    super('XL_MIGRATION', 'the receiver could not take the domain and destroyed its copy');
  }
}

/**
 * Receiver started, source open, participants joined, hellos checked. Nothing changed yet.
 * The receiver starts first: its start (a process, often over ssh) is the longest step here,
 * and the source is opened meanwhile.
 */
async function handshake(s: SenderSession): Promise<void> {
  const signal = s.failure.signal;
  const peer = (s.peer = s.source.connect());
  try {
    await openSource(s);
  } catch (err) {
    // Nothing was said to the receiver: its word that the pipe closed would only be noise.
    peer.mute?.();
    throw err;
  }
  const requires = [
    ...new Set([
      ...ramRequires(required(s.info, 'the domain info')),
      // QEMU to QEMU over TCP: the receiver's ports take only TLS-PSK with its key for this migration.
      ...(s.settings.ramTransport === 'direct' ? [Feature.DIRECT_RAM, Feature.DIRECT_TLS] : []),
      ...(s.settings.postcopy ? [Feature.POSTCOPY] : []),
      ...s.participants.flatMap((p) => p.requires),
    ]),
  ];
  s.link = await raced(
    senderHandshake({ input: peer.input, output: peer.output, config: s.config, requires }),
    signal,
  );
  s.stages.event('negotiated', {
    version: s.link.agreement.version,
    features: s.link.agreement.features,
    receiver: s.link.peer.software,
  });
}

async function openSource(s: SenderSession): Promise<void> {
  const opened = await raced(s.source.open(s.config.disks), s.failure.signal);
  s.before.running = opened.running;
  if (!['running', 'paused'].includes(opened.status)) {
    throw new XlError(
      'XL_MIGRATION',
      `domain '${s.source.name}' is ${opened.status}; only a running or paused domain can migrate`,
    );
  }
  s.info = opened.info;
  for (const join of s.join) s.participants.push(await join(s));
}

/** PHASE 1: what the receiver needs to start QEMU -incoming defer; it answers PHASE_READY 1. */
async function bootstrap(s: SenderSession): Promise<void> {
  const link = required(s.link, 'the link');
  await link.writer.writePhase(1);
  await link.writer.writeDomainInfo(required(s.info, 'the domain info'));
  for (const p of s.participants) await p.bootstrap?.(s);
  const setup = prepareSource(s);
  const take = (rec: StreamRecord) => s.participants.some((p) => p.takeBackRecord?.(rec) === true);
  await raced(waitPhaseReady(link.back, 1, take), s.failure.signal);
  await raced(setup, s.failure.signal);
  for (const p of s.participants) p.bootstrapped?.(s);
  await s.source.setStatus('migrating');
}

/**
 * The source QEMU's settings for the RAM phase (the ladder's downtime limit and dormant
 * throttle, bandwidth, capabilities), set while the receiver starts its QEMU, which takes far
 * longer: then phase 3 only has to `migrate`. None of them moves the guest, and every
 * migration sets them all, so one that fails later leaves nothing armed for the next.
 */
function prepareSource(s: SenderSession): Promise<void> {
  const ladder = ladderPolicyOf(s);
  const setup = s.source
    .prepareRam({
      ...(ladder === undefined ? {} : { ladder: armParameters(ladder) }),
      ...(s.settings.maxBandwidth === undefined ? {} : { maxBandwidth: s.settings.maxBandwidth }),
      ...(s.settings.maxDowntimeMs === undefined ? {} : { maxDowntimeMs: s.settings.maxDowntimeMs }),
      preSwitchover: s.participants.some((p) => p.preSwitchover !== undefined),
      postcopy: s.settings.postcopy !== undefined && s.settings.resume !== true,
      autoConverge: ladder?.throttle ?? false,
      direct: s.settings.ramTransport === 'direct',
    })
    .then(() => {
      s.prepared = true;
    });
  setup.catch(() => undefined);
  return setup;
}

/** PHASE 2 (only when a participant has one): e.g. every disk mirrored until READY. */
async function mirror(s: SenderSession): Promise<void> {
  for (const p of s.participants) if (p.mirror) await raced(p.mirror(s), s.failure.signal);
}

/**
 * What both RAM transports share: the common QEMU options, the hooks, the last figures, and the
 * convergence ladder, armed here (before the transport's `migrate`) and fed every sample.
 */
function ramCommon(s: SenderSession) {
  const progress = s.settings.progress;
  let total: number | undefined;
  // Its parameters were set in bootstrap (prepareSource); a resume has no bootstrap.
  const ladder = startLadder(s, { armed: s.prepared === true });
  let seen: MigrationProgress | undefined;
  let last: MigrationProgress | undefined;
  const common = {
    signal: s.failure.signal,
    ...(s.prepared ? { prepared: true } : {}),
    autoConverge: ladder?.autoConverge ?? false,
    ...(s.settings.maxBandwidth === undefined ? {} : { maxBandwidth: s.settings.maxBandwidth }),
    ...(s.settings.maxDowntimeMs === undefined ? {} : { maxDowntimeMs: s.settings.maxDowntimeMs }),
    // QEMU pauses before the switch-over only for a participant with work there (the `-q`
    // mirrors): otherwise the pause would only add xl's round trips to the guest's downtime.
    ...(s.participants.some((p) => p.preSwitchover !== undefined)
      ? {
          onPreSwitchover: async () => {
            s.stages.event('pre-switchover');
            for (const p of s.participants) await p.preSwitchover?.(s);
          },
        }
      : {}),
    onProgress: (p: RamProgress) => {
      const m = p.migration;
      if (m !== undefined) last = m;
      // The relayed path repeats QEMU's last sample with every chunk: the ladder sees each once.
      if (m !== undefined && m !== seen) ladder?.sample((seen = m));
      if (m !== undefined && m.total > 0) total = m.total;
      progress.update(() => {
        const note = ladder?.ladder.note;
        return {
          bytes: p.bytes,
          ...(total === undefined ? {} : { total }),
          ...(m === undefined
            ? {}
            : {
                remaining: m.remaining,
                note: `pass ${m.pass}, dirty ${m.dirtyPagesRate} pages/s${note === undefined ? '' : `, ${note}`}`,
                fields: {
                  pass: m.pass,
                  dirtyPagesRate: m.dirtyPagesRate,
                  status: m.status,
                  ...ladder?.ladder.fields,
                },
              }),
        };
      });
    },
  };
  /** QEMU sent everything: participants finish, the forward stream ends, the figures settle. */
  const finish = async (): Promise<void> => {
    ladder?.stop();
    if (s.postcopyActive) s.stages.event('postcopy-figures', postcopyFigures(last));
    const ram = required(s.ram, 'the RAM result');
    s.marks.sent = Date.now();
    // The source's record says it moved (its mark: never resume on recovery) while the
    // destination is still loading the device state: a store update less in the downtime.
    s.movedAway = s.source.setStatus('migrated-away');
    s.movedAway.catch(() => undefined);
    for (const p of s.participants) if (p.afterRam) await raced(p.afterRam(s), s.failure.signal);
    await required(s.link, 'the link').writer.end();
    // QEMU's downtime figure, settled while the receiver finishes (not before END: it may wait).
    s.downtimeQuery = ram.downtimeMs().catch(() => undefined);
    progress.update({ bytes: ram.bytes, ...(total === undefined ? {} : { total }), remaining: 0 }, true);
  };
  /** The ladder's setup (auto-converge is a capability: it must be in place before `migrate`). */
  const ready = async (): Promise<void> => {
    await ladder?.armed;
  };
  return { common, finish, ready };
}

/** The source QEMU's post-copy counts (ram.postcopy-requests, postcopy-bytes), those it gave. */
export function postcopyFigures(m: MigrationProgress | undefined): { requests?: number; bytes?: number } {
  const ram = m?.info.ram;
  const count = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined);
  const requests = count(ram?.['postcopy-requests']);
  const bytes = count(ram?.['postcopy-bytes']);
  return { ...(requests === undefined ? {} : { requests }), ...(bytes === undefined ? {} : { bytes }) };
}

/** PHASE 3: QEMU's stream as verified RAM_CHUNK records; participants finish at pre-switchover. */
async function ramRelayed(s: SenderSession): Promise<void> {
  const { writer, back, agreement } = required(s.link, 'the link');
  const signal = s.failure.signal;
  const credit = agreement.features.includes(Feature.RAM_CREDIT) ? new RamCredit(signal) : undefined;
  // Post-copy over the pipe: the destination QEMU's return path comes back as RAM_RETURN.
  const returnPath = s.settings.postcopy || s.settings.resume ? new ReturnPathSink() : undefined;
  s.backDone = waitBackEnd(back, (rec) => {
    if (rec.name === 'RAM_CREDIT' && credit) return (credit.grant(rec.value.bytes), true);
    if (rec.name === 'RAM_RETURN' && returnPath) return (returnPath.write(rec.value.chunks), true);
    return false;
  });
  s.backDone.catch((err: unknown) => s.failure.abort(err));
  await writer.writePhase(3);
  const { common, finish, ready } = ramCommon(s);
  await raced(ready(), signal);
  const postcopy = s.settings.postcopy && !s.settings.resume ? postcopyHooks(s) : undefined;
  try {
    s.ram = await raced(
      s.source.sendRam({
        ...common,
        writer,
        ...(credit ? { credit } : {}),
        ...(postcopy ? { postcopy } : {}),
        ...(returnPath ? { returnPath } : {}),
        ...(s.settings.resume ? { resume: true } : {}),
      }),
      signal,
    );
  } finally {
    returnPath?.close();
  }
  if (returnPath !== undefined && s.postcopyActive)
    s.stages.event('return-path', { bytes: returnPath.bytes });
  await finish();
}

/** PHASE 3, direct transport: the receiver's QEMU listens (RAM_ENDPOINT), ours connects to it. */
async function ramDirect(s: SenderSession): Promise<void> {
  const { writer, back, key } = required(s.link, 'the link');
  const signal = s.failure.signal;
  let endpoint: RamEndpoint | undefined;
  let announced!: (e: RamEndpoint) => void;
  const where = new Promise<RamEndpoint>((resolve) => (announced = resolve));
  s.backDone = waitBackEnd(back, (rec) => {
    if (rec.name !== 'RAM_ENDPOINT' || endpoint !== undefined) return false;
    endpoint = rec.value;
    announced(rec.value);
    return true;
  });
  const ended = s.backDone.then(() => {
    if (endpoint === undefined)
      throw new XlError('XL_MIGRATION', 'the receiver ended its back channel without a RAM endpoint');
  });
  ended.catch((err: unknown) => s.failure.abort(err));
  await writer.writePhase(3);
  const to = await raced(where, signal);
  s.stages.event('ram-endpoint', { ...to });
  const { common, finish, ready } = ramCommon(s);
  await raced(ready(), signal);
  const postcopy = s.settings.postcopy && !s.settings.resume ? postcopyHooks(s) : undefined;
  s.ram = await raced(
    s.source.sendRamDirect({
      ...common,
      endpoint: to,
      ...(key === undefined ? {} : { key }),
      ...(postcopy ? { postcopy } : {}),
      ...(s.settings.resume ? { resume: true } : {}),
    }),
    signal,
  );
  await finish();
}

/**
 * When to switch to post-copy (after N complete passes, after T seconds of RAM phase, or when
 * `xl migrate-postcopy` asks), and the switch itself: once QEMU is in post-copy the source is
 * renamed NAME--migratedaway (it will never run again) and POSTCOPY_GO tells the receiver to
 * run the guest.
 */
function postcopyHooks(s: SenderSession): PostcopyHooks {
  const policy = required(s.settings.postcopy, 'the post-copy policy');
  const since = performance.now();
  return {
    due: (m) => {
      const seconds = (performance.now() - since) / 1000;
      const why = s.postcopyRequested
        ? 'requested'
        : policy.afterPasses !== undefined && m.pass > policy.afterPasses
          ? 'passes'
          : policy.afterSeconds !== undefined && seconds >= policy.afterSeconds
            ? 'time'
            : undefined;
      if (why !== undefined)
        s.stages.event('postcopy-start', { why, pass: m.pass, seconds: Math.round(seconds * 1000) / 1000 });
      return why !== undefined;
    },
    onActive: async () => {
      s.postcopyActive = true;
      s.stages.event('postcopy-active');
      await s.source.setStatus('migrated-away');
      await required(s.link, 'the link').writer.writeRecord('POSTCOPY_GO', null);
      // The receiver runs the guest on this record: the guest's pause ends about now.
      s.resumedAtMs = Date.now();
    },
  };
}

async function ram(s: SenderSession): Promise<void> {
  await (s.settings.ramTransport === 'direct' ? ramDirect(s) : ramRelayed(s));
}

/** The receiver's END and READY, then GO (the point of no return) and its report. */
async function switchover(s: SenderSession): Promise<void> {
  const signal = s.failure.signal;
  const link = required(s.link, 'the link');
  await raced(required(s.backDone, 'the back channel'), signal);
  s.rest = new ByteChannel(link.back.remainder(), 'receiver');
  await raced(expectReady(s.rest), signal);
  await (s.movedAway ?? s.source.setStatus('migrated-away'));
  // The last moment a Ctrl-C (or a failure found meanwhile) still rolls back.
  if (signal.aborted) throw signal.reason as Error;
  s.goSent = true;
  s.marks.go = Date.now();
  try {
    await sendGo(required(s.peer, 'the receiver').output);
  } catch (err) {
    throw new XlError('XL_MIGRATION', `sending the go-ahead failed: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  const report = await readReport(s.rest);
  if (report.status === 'released') throw new ReleasedByReceiver();
  s.taken = true;
  // In post-copy the guest already ran on from POSTCOPY_GO.
  s.resumedAtMs ??= Date.now();
  // Off the guest's pause: the source QEMU is still there (the cleanup removes it).
  s.downtimeMs = await required(s.downtimeQuery, "QEMU's downtime query");
}

/** The domain runs on the destination: this host's own housekeeping. */
async function cleanup(s: SenderSession): Promise<void> {
  await s.source.destroy();
}

export const SENDER_PHASES: readonly PhaseStep<SenderSession>[] = [
  { phase: 'handshake', run: handshake },
  { phase: 'bootstrap', run: bootstrap },
  { phase: 'mirror', run: mirror, skip: (s) => !s.participants.some((p) => p.mirror !== undefined) },
  { phase: 'ram', run: ram },
  { phase: 'switchover', run: switchover },
  { phase: 'cleanup', run: cleanup },
];
