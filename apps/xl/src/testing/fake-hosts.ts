/**
 * Test-only: both ends of a migration on fake hosts, joined by an in-memory pipe. The phase
 * machines, the link and the completion paths are the real ones; the source and destination
 * ports only record what they were asked to do (and fail where a test says so).
 */
import { PassThrough, Transform } from 'node:stream';
import { GO } from '../link/protocol.js';
import type { MigrationProgress } from '@xlkit/qmp';
import type { DomainInfo, StreamReader } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import type { DestinationPort } from '../migrate/destination-port.js';
import type { Phase } from '../migrate/phases.js';
import type { ReceiverSession, JoinReceiver } from '../migrate/receiver-session.js';
import type { JoinSender, SenderSession } from '../migrate/sender-session.js';
import type { SourcePort } from '../migrate/source-port.js';
import { Stages } from '../migrate/stages.js';
import { testDomainConfig } from './domain-config.js';
import { ProgressReporter } from '../progress/reporter.js';
import type { DomainRecord } from '../store/domain-record.js';

export const FAKE_CONFIG: DomainConfig = testDomainConfig('web', {
  uuid: '6f1c3a52-8e5d-4c1b-9a0e-2b7d5f3e9c41',
});

const INFO: DomainInfo = {
  qemuVersion: '7.2.0',
  machine: 'pc-i440fx-7.2',
  accel: 'tcg',
  memoryMiB: 64,
  vcpus: 1,
  disks: [],
};

/** What each host was asked to do, in order ('rollback', 'destroy', 'start', 'takeOver', ...). */
export interface Effects {
  source: string[];
  destination: string[];
}

/** A port method that throws (or, for the receiver's take-over, dies) instead of doing its work. */
export type FailPoint =
  | { side: 'source'; at: 'open' | 'setStatus:migrating' | 'setStatus:migrated-away' | 'sendRam' | 'destroy' }
  | {
      side: 'destination';
      at:
        | 'start'
        | 'receiveRam'
        | 'takeOver'
        | 'takeOver:die'
        | 'takeOver+destroy'
        | 'takeOver:ran-shared'
        | 'postcopy-qemu';
    }
  /**
   * The link breaks in post-copy while the destination QEMU, waiting for pages, answers no QMP:
   * the source's RAM phase fails after POSTCOPY_GO, the receiver's take-over never returns.
   */
  | { side: 'link'; at: 'postcopy' }
  /**
   * The link breaks right after POSTCOPY_GO, before the destination QEMU loaded the device
   * state: the take-over's `cont` returns but no RESUME comes, QEMU exits (7.2: "loadvm
   * failed"), so the recovery cannot be armed and QEMU is gone when the receiver looks again.
   */
  | { side: 'link'; at: 'postcopy-early' }
  /** One byte of GO flipped on its way to the receiver. */
  | { side: 'link'; at: 'go' };

export function injected(what: string): Error {
  return Object.assign(new Error(`injected failure: ${what}`), { code: 'XL_MIGRATION' });
}

export function fakeSource(
  fx: Effects,
  fail: FailPoint | undefined,
  connect: SourcePort['connect'],
): SourcePort {
  const failHere = (at: string) => {
    if (fail?.side === 'source' && fail.at === at) throw injected(at);
  };
  return {
    name: FAKE_CONFIG.name,
    id: 1,
    qmp: undefined,
    sockets: { migration: '/nonexistent/m.sock', nbd: '/nonexistent/n.sock' },
    nbdTlsDir: '/nonexistent/nbd-tls',
    async open() {
      failHere('open');
      return { status: 'running', running: true, info: INFO };
    },
    async openPaused() {
      failHere('open');
    },
    connect,
    async setStatus(status) {
      failHere(`setStatus:${status}`);
      fx.source.push(status);
    },
    async prepareRam() {
      failHere('prepareRam');
    },
    async sendRam(o) {
      for (let i = 0; i < 3; i++) {
        await o.writer.writeRamChunk(Buffer.alloc(4096, i + 1));
        // As QEMU's stream takes its time: a receiver failing meanwhile is seen in this phase.
        await new Promise((r) => setTimeout(r, 10));
        if (o.signal.aborted) throw o.signal.reason as Error;
      }
      failHere('sendRam');
      await o.onPreSwitchover?.();
      await o.writer.endRam();
      return { bytes: 3 * 4096, chunks: 3, downtimeMs: async () => 5 };
    },
    async sendRamDirect(o) {
      fx.source.push(`sendRamDirect ${o.endpoint.transport}`);
      if (o.onPreSwitchover !== undefined) fx.source.push('pause-before-switchover');
      // QEMU to QEMU: nothing crosses the pipe; the destination's fake QEMU completes by itself.
      await o.onPreSwitchover?.();
      // Post-copy allowed: the second pass is where the policy of the tests says switch.
      if (o.postcopy?.due({ status: 'active', pass: 2 } as MigrationProgress)) {
        await o.postcopy.onActive();
        fx.source.push('postcopy');
        if (fail?.side === 'link' && (fail.at === 'postcopy' || fail.at === 'postcopy-early'))
          throw injected('the link broke');
      }
      failHere('sendRam');
      return { bytes: 3 * 4096, chunks: 0, downtimeMs: async () => 5 };
    },
    async rollback() {
      fx.source.push('rollback');
      return {};
    },
    async destroy() {
      failHere('destroy');
      fx.source.push('destroy');
    },
    async close() {},
  };
}

export function fakeDestination(
  fx: Effects,
  fail: FailPoint | undefined,
  output: PassThrough,
): DestinationPort {
  let failQemu!: (err: unknown) => void;
  const qemuVerdict = new Promise<{ status: string }>((resolve, reject) => {
    failQemu = reject;
    if (!(fail?.side === 'destination' && fail.at === 'postcopy-qemu')) resolve({ status: 'completed' });
  });
  let record: DomainRecord | undefined;
  let ranShared = false;
  const early = fail?.side === 'link' && fail.at === 'postcopy-early';
  const failHere = (at: string) => {
    if (fail?.side === 'destination' && fail.at === at) throw injected(at);
  };
  return {
    get record() {
      return record;
    },
    qmp: undefined,
    // takeOver:ran-shared: an upgrade's QEMU on shared RAM failed after its vCPUs were started.
    ranOnSharedRam: () => ranShared,
    // postcopy-early: no RESUME came after the take-over's `cont`.
    guestRan: () => fx.destination.includes('takeOver') && !early,
    async refuse() {},
    async hostCheck() {},
    async start(config) {
      fx.destination.push('start');
      record = {
        id: 7,
        name: `${config.name}--incoming`,
        uuid: FAKE_CONFIG.uuid,
        status: 'incoming',
        config,
      } as DomainRecord;
      failHere('start');
      return record;
    },
    async receiveRam(o) {
      fx.destination.push('receiveRam');
      return readRam(o.reader, o.onRecord, () => failHere('receiveRam'));
    },
    async markPostcopy() {},
    async holdRecovery() {
      fx.destination.push('holdRecovery');
    },
    async armRecovery() {
      fx.destination.push('armRecovery');
      if (early) throw injected('QMP client is closed');
    },
    async adopt(config) {
      fx.destination.push('adopt');
      record = {
        id: 7,
        name: config.name,
        uuid: FAKE_CONFIG.uuid,
        status: 'running',
        config,
      } as DomainRecord;
      return record;
    },
    async listenRam() {
      fx.destination.push('listenRam');
      return { endpoint: { transport: 'tcp' as const, host: '127.0.0.1', port: 1 }, completed: qemuVerdict };
    },
    async keep(name) {
      fx.destination.push('keep');
      // postcopy-early: looked at again after the recovery failed, its QEMU has exited.
      if (early && fx.destination.includes('armRecovery')) {
        fx.destination.push('exited');
        return (record = undefined);
      }
      return (record = { ...record!, name });
    },
    async takeOver() {
      if (fail?.side === 'link' && fail.at === 'postcopy') return new Promise<never>(() => undefined);
      if (fail?.side === 'destination' && fail.at === 'takeOver:die') {
        output.end();
        return new Promise<never>(() => undefined);
      }
      if (fail?.side === 'destination' && fail.at === 'takeOver:ran-shared') ranShared = true;
      failHere('takeOver');
      failHere('takeOver+destroy');
      failHere('takeOver:ran-shared');
      fx.destination.push('takeOver');
      // postcopy-qemu: the incoming QEMU fails once the guest runs there (the first take-over).
      if (fail?.side === 'destination' && fail.at === 'postcopy-qemu') failQemu(injected('postcopy-qemu'));
    },
    async destroy() {
      // takeOver+destroy: this copy cannot be stopped either.
      if (record === undefined) return true;
      if (fail?.side === 'destination' && fail.at === 'takeOver+destroy') return false;
      fx.destination.push('destroy');
      return true;
    },
    async close() {},
  };
}

async function readRam(reader: StreamReader, onRecord: (r: never) => void, atFirstChunk: () => void) {
  let chunks = 0;
  for (;;) {
    const rec = await reader.next();
    if (rec === null) throw new Error('the RAM stream ended early');
    if (rec.name === 'RAM_END')
      return { bytes: chunks * 4096, chunks, digest: Buffer.alloc(32), status: 'completed' };
    if (rec.name === 'RAM_CHUNK' && chunks++ === 0) atFirstChunk();
    else if (rec.name !== 'RAM_CHUNK') onRecord(rec as never);
  }
}

/** A writable into `to` that flips the first byte of xl's GO string, written whole as sendGo does. */
function garbleGo(to: PassThrough): Transform {
  const t = new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (!chunk.equals(GO)) return done(null, chunk);
      const bad = Buffer.from(chunk);
      bad[0]! ^= 1;
      done(null, bad);
    },
  });
  t.pipe(to);
  return t;
}

export interface Pair {
  sender: SenderSession;
  /** The receiver's session once the sender started it. */
  receiver(): ReceiverSession | undefined;
  /** The receiver's walk, once started (never settles when it died). */
  received(): Promise<unknown> | undefined;
}

/** A sender whose connect() starts a receiver machine in-process over PassThrough pipes. */
export function fakePair(
  fx: Effects,
  fail: FailPoint | undefined,
  run: (r: ReceiverSession) => Promise<unknown>,
  o: {
    senderJoin?: JoinSender[];
    receiverJoin?: JoinReceiver[];
    receiverFeatures?: string[];
    ramTransport?: 'relay' | 'direct';
    postcopy?: { afterPasses?: number };
    resume?: boolean;
  } = {},
): Pair {
  let receiver: ReceiverSession | undefined;
  let received: Promise<unknown> | undefined;
  const quiet = { stdout: new PassThrough(), stderr: new PassThrough() };
  const progress = new ProgressReporter(quiet, { mode: 'quiet', operation: 'migrate' });
  const failure = new AbortController();
  const source = fakeSource(fx, fail, () => {
    const forward = new PassThrough();
    const back = new PassThrough();
    // What the sender writes: straight into the receiver's input, or through a GO garbler.
    const wire = fail?.side === 'link' && fail.at === 'go' ? garbleGo(forward) : forward;
    receiver = {
      settings: {
        direct: { sameHost: true, host: '127.0.0.1' },
        input: forward,
        output: back,
        paused: false,
        log: () => undefined,
        ...(o.receiverFeatures ? { features: o.receiverFeatures } : {}),
      },
      dest: fakeDestination(fx, fail, back),
      join: o.receiverJoin ?? [],
      participants: [],
      goReceived: false,
      postcopy: false,
      taken: false,
    };
    // Its output closes when it is done, as a process's stdout does when it exits.
    received = run(receiver).finally(() => back.end());
    received.catch(() => undefined);
    return {
      input: back,
      output: wire,
      async stop() {
        wire.end();
        await Promise.race([received, new Promise((r) => setTimeout(r, 50))]).catch(() => undefined);
      },
    };
  });
  const sender: SenderSession = {
    settings: {
      host: 'fake-host',
      paused: false,
      ...(o.ramTransport ? { ramTransport: o.ramTransport } : {}),
      ...(o.postcopy ? { postcopy: o.postcopy } : {}),
      ...(o.resume ? { resume: true } : {}),
      progress,
      stderr: quiet.stderr,
      signal: new AbortController().signal,
    },
    config: FAKE_CONFIG,
    source,
    stages: new Stages(progress),
    join: o.senderJoin ?? [],
    failure,
    before: { name: FAKE_CONFIG.name, status: 'running', running: true },
    participants: [],
    postcopyRequested: false,
    postcopyActive: o.resume === true,
    goSent: false,
    marks: {},
    taken: false,
  };
  return { sender, receiver: () => receiver, received: () => received };
}

export type { Phase };
