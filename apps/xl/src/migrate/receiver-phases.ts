/**
 * The receiving side's phases, each a step over the session (receiver-session.ts). A step
 * throws to stop the walk and never cleans up: receiver-completion.ts decides what to undo.
 */
import { errorMessage, XlError } from '../errors.js';
import { ByteChannel } from '../link/byte-channel.js';
import { expectPhase, nextExpected, unexpectedRecord } from '../link/forward-records.js';
import { receiverHandshake } from '../link/handshake.js';
import { Feature, makeHello } from '../link/protocol.js';
import { expectGo, GarbledGo, reportRunning, sendReady } from '../link/switchover.js';
import { RAM_CREDIT_WINDOW } from '../ram/ram-credit.js';
import { checkSavedConfig, SAVED_CONFIG_UNUSABLE } from '../ram/saved-config.js';
import { required, type Phase, type PhaseStep } from './phases.js';
import type { DirectListening, ReceiverSession } from './receiver-session.js';

/** How the receiver names its phases to the sender and the user (xl's words for them). */
export const RECEIVER_STAGE: Record<Phase, string> = {
  handshake: 'handshake',
  bootstrap: 'phase 1',
  mirror: 'phase 2',
  ram: 'phase 3',
  switchover: 'switch-over',
  cleanup: 'cleanup',
};

function interrupted(s: ReceiverSession): void {
  if (s.settings.signal?.aborted) throw new XlError('XL_INTERRUPTED', 'migrate-receive was interrupted');
}

/** The sender's config from the xl header, as a usable domain config (untrusted JSON). */
function senderConfig(value: unknown) {
  try {
    return checkSavedConfig(value);
  } catch (err) {
    const why = errorMessage(err);
    throw new XlError(
      'XL_MIGRATION',
      `the sender's domain config is not usable: ${why.startsWith(SAVED_CONFIG_UNUSABLE) ? why.slice(SAVED_CONFIG_UNUSABLE.length) : why}`,
    );
  }
}

async function handshake(s: ReceiverSession): Promise<void> {
  const { input, output, features } = s.settings;
  s.link = await receiverHandshake({
    input,
    output,
    ...(features ? { hello: makeHello([], features) } : {}),
  });
  interrupted(s);
  s.config = senderConfig(s.link.config);
}

/** PHASE 1 + DOMAIN_INFO: every refusal first, then QEMU -incoming defer; PHASE_READY 1. */
async function bootstrap(s: ReceiverSession): Promise<void> {
  const link = required(s.link, 'the link');
  const config = required(s.config, 'the config');
  if (link.peer.requires.includes(Feature.POSTCOPY_RESUME)) {
    // `xl migrate --resume`: the guest already runs here, in a post-copy paused by a broken link.
    const record = await s.dest.adopt(config);
    s.taken = true;
    s.postcopy = true;
    s.settings.log(`resuming the paused post-copy of '${record.name}' (id ${record.id})`);
    // The sender's QEMU may be told to resume now (resume-phases.ts).
    await link.writer.writeRecord('PHASE_READY', { phase: 1 });
    return;
  }
  await expectPhase(link.forward, 1);
  const rec = await nextExpected(link.forward, 'sender', 'the domain info');
  if (rec.name !== 'DOMAIN_INFO') throw unexpectedRecord(rec, 'DOMAIN_INFO');
  const info = (s.info = rec.value);
  await s.dest.refuse(config);
  for (const join of s.join) {
    const p = await join(s);
    if (p !== undefined) s.participants.push(p);
  }
  let check = { info, config };
  let start = config;
  for (const p of s.participants) {
    if (!p.adjust) continue;
    const a = p.adjust(check.info, start);
    check = a.check;
    start = a.config;
  }
  await s.dest.hostCheck(check.info, check.config);
  interrupted(s);
  const created = s.participants.flatMap((p) => p.created ?? []);
  const prepares = s.participants.flatMap((p) => (p.prepare ? [() => p.prepare!()] : []));
  const record = await s.dest.start(start, info, {
    // QEMU serves one QMP client at a time: a participant's own connection (a -q mirror's
    // exports) must find it free.
    ...(s.participants.length === 0 ? { keepQmp: true } : {}),
    ...(created.length > 0 || prepares.length > 0 ? { createdDisks: created } : {}),
    ...(prepares.length > 0
      ? {
          prepare: async () => {
            for (const f of prepares) await f();
          },
        }
      : {}),
  });
  s.settings.log(`receiving domain '${config.name}' as '${record.name}' (id ${record.id})`);
  interrupted(s);
  for (const p of s.participants) await p.started?.(s);
  // Direct, with nothing before phase 3: QEMU listens now, while PHASE_READY 1 and PHASE 3 cross.
  if (link.peer.requires.includes(Feature.DIRECT_RAM) && !s.participants.some((p) => p.mirror)) {
    s.listening = listenDirect(s);
    s.listening.catch(() => undefined);
  }
  await link.writer.writeRecord('PHASE_READY', { phase: 1 });
}

async function mirror(s: ReceiverSession): Promise<void> {
  for (const p of s.participants) await p.mirror?.(s);
}

/** Post-copy may start: the record says so, and the recovery monitor is held (for a broken link). */
async function mayPostcopy(s: ReceiverSession): Promise<void> {
  await s.dest.markPostcopy();
  await s.dest.holdRecovery();
}

/** PHASE 3: verified RAM into QEMU, END; participants finish before the domain can resume. */
async function ram(s: ReceiverSession): Promise<void> {
  const link = required(s.link, 'the link');
  await expectPhase(link.forward, 3);
  if (link.peer.requires.includes(Feature.DIRECT_RAM)) return ramDirect(s);
  const back = link.writer;
  const postcopy = link.peer.requires.includes(Feature.POSTCOPY);
  if (postcopy && !s.taken) await mayPostcopy(s);
  let running: Promise<void> | undefined;
  const recover = link.peer.requires.includes(Feature.POSTCOPY_RESUME);
  const ram = await s.dest.receiveRam({
    reader: link.forward,
    ...(recover ? { recover } : {}),
    ...(s.settings.signal ? { signal: s.settings.signal } : {}),
    // A failed grant means a broken back channel, which the sender sees on its own.
    ...(link.agreement.features.includes(Feature.RAM_CREDIT)
      ? {
          credit: {
            window: RAM_CREDIT_WINDOW,
            grant: (bytes: number) => void back.writeRecord('RAM_CREDIT', { bytes }).catch(() => undefined),
          },
        }
      : {}),
    // Post-copy: QEMU's return path goes back at once (page requests), and POSTCOPY_GO inside
    // the RAM stream makes the guest run here while the rest arrives.
    ...(postcopy
      ? {
          returnPath: (piece: Buffer) =>
            void back
              .writeRecord('RAM_RETURN', { chunks: [piece], length: piece.length })
              .catch(() => undefined),
        }
      : {}),
    onRecord: (rec) => {
      if (rec.name !== 'POSTCOPY_GO' || !postcopy || running !== undefined)
        throw unexpectedRecord(rec, 'RAM_CHUNK');
      // Not awaited here: QEMU may answer QMP only once the pages this stream brings arrived
      // (it loads the device state in its main loop), so the stream must keep flowing.
      running = runGuestNow(s);
    },
  });
  if (running !== undefined) await running;
  const end = await nextExpected(link.forward, 'sender', 'END');
  if (end.name !== 'END') throw unexpectedRecord(end, 'END');
  // The guest must not run while the NBD server could still take writes.
  for (const p of s.participants) await p.afterRam?.(s);
  s.settings.log(
    `received ${ram.bytes} bytes of RAM stream in ${ram.chunks} chunks, digest ${ram.digest.toString('hex').slice(0, 16)}... verified; QEMU ${ram.status}`,
  );
}

/** The direct transport's listener: QEMU takes post-copy when the sender requires it. */
async function listenDirect(s: ReceiverSession): Promise<DirectListening> {
  const link = required(s.link, 'the link');
  const postcopy = link.peer.requires.includes(Feature.POSTCOPY);
  if (postcopy && !s.taken) await mayPostcopy(s);
  const recover = link.peer.requires.includes(Feature.POSTCOPY_RESUME);
  return s.dest.listenRam({
    ...s.settings.direct,
    postcopy,
    ...(recover ? { recover } : {}),
    ...(link.key === undefined ? {} : { key: link.key }),
  });
}

/** PHASE 3, direct transport: our QEMU listens, RAM_ENDPOINT says where; QEMU's verdict, then END. */
async function ramDirect(s: ReceiverSession): Promise<void> {
  const link = required(s.link, 'the link');
  const postcopy = link.peer.requires.includes(Feature.POSTCOPY);
  const { endpoint, completed } = await (s.listening ?? listenDirect(s));
  await link.writer.writeRecord('RAM_ENDPOINT', endpoint);
  await link.writer.flush();
  // The sender writes END once its QEMU completed (POSTCOPY_GO before it, if it switched); a
  // MIGRATION_ERROR or EOF instead ends this early.
  let running: Promise<void> | undefined;
  const end = (async () => {
    for (;;) {
      const rec = await nextExpected(link.forward, 'sender', 'END');
      // Not awaited here either: a link that breaks while QEMU cannot answer must still be seen.
      if (rec.name === 'POSTCOPY_GO' && postcopy && running === undefined) running = runGuestNow(s);
      else if (rec.name === 'END') return running;
      else throw unexpectedRecord(rec, 'END');
    }
  })();
  end.catch(() => undefined);
  const verdict = await Promise.race([completed, end.then(() => completed)]);
  await end;
  for (const p of s.participants) await p.afterRam?.(s);
  const where =
    endpoint.transport === 'unix' ? `unix:${endpoint.path}` : `tcp:${endpoint.host}:${endpoint.port}`;
  s.settings.log(`received the domain QEMU to QEMU (direct, ${where}); QEMU ${verdict.status}`);
}

/**
 * The domain is ours: it takes its name, runs unless -p, and what the participants made is
 * kept. After GO; or at POSTCOPY_GO, when the source can never run it again and the guest
 * must run here for the rest of its RAM to be pulled in.
 */
async function takeOver(s: ReceiverSession): Promise<void> {
  if (s.taken) return;
  await s.dest.takeOver(required(s.config, 'the config').name, s.settings.paused);
  s.taken = true;
  // The targets are this domain's disks now: no later failure may remove them.
  for (const p of s.participants) p.commit?.();
}

/**
 * POSTCOPY_GO: from this record on the source never runs the guest again, so nothing here is
 * destroyed whatever fails (s.postcopy, set at once); then the guest is started here. Its
 * QMP calls may wait for pages still to come: the caller reads on meanwhile.
 */
function runGuestNow(s: ReceiverSession): Promise<void> {
  s.postcopy = true;
  const run = (async () => {
    // Nothing may write the disks through the NBD server once the guest runs.
    for (const p of s.participants) await p.beforeRun?.(s);
    await takeOver(s);
    s.settings.log('post-copy: the guest runs here while the rest of its RAM arrives');
  })();
  run.catch(() => undefined);
  return run;
}

/** END and READY, then GO (the point of no return), the take-over and the report. */
async function switchover(s: ReceiverSession): Promise<void> {
  const link = required(s.link, 'the link');
  await link.writer.writeRecord('END', null);
  await link.writer.flush();
  await sendReady(s.settings.output);
  try {
    await expectGo(new ByteChannel(link.forward.remainder(), 'sender'));
  } catch (err) {
    // A garbled GO was a GO: the sender waits for our report (and is released by it).
    if (err instanceof GarbledGo) s.goReceived = true;
    throw err;
  }
  s.goReceived = true;
  await takeOver(s);
  await s.dest.close();
  await reportRunning(s.settings.output).catch(() => undefined);
}

export const RECEIVER_PHASES: readonly PhaseStep<ReceiverSession>[] = [
  { phase: 'handshake', run: handshake },
  { phase: 'bootstrap', run: bootstrap },
  { phase: 'mirror', run: mirror, skip: (s) => !s.participants.some((p) => p.mirror !== undefined) },
  { phase: 'ram', run: ram },
  { phase: 'switchover', run: switchover },
];
