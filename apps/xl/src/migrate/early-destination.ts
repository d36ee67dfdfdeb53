/**
 * `xl upgrade`'s destination, started early. An upgrade knows everything its receiver will
 * need before any record crosses: the config the sender sends, and the domain info the new
 * QEMU starts from (its machine type, accelerator and RAM size). So the new QEMU is refused or
 * started, and set listening for the stream, before the sender opens the source: the handshake
 * and phase 1 run while QEMU starts.
 *
 * The steps are the receiver's own, in its order (refuse, host check, start, listen), and each
 * of the receiver's calls returns its step's result or throws its step's error: a failure
 * surfaces in the same phase, with the same words, as without the early start, and the
 * completion path is unchanged. Each call checks that the receiver asks for what was started
 * (the config as it came through the pipe, the domain info's machine type, accelerator and
 * RAM size, the listen options): anything else is a bug, and fails the upgrade before the new
 * QEMU took anything over. `destroy` and `close` wait for the steps to settle first, so that
 * no QEMU they are starting can outlive them.
 */
import { isDeepStrictEqual } from 'node:util';
import type { DomainInfo } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import { XlError } from '../errors.js';
import { savedRamBytes } from '../qemu/guest-ram.js';
import type { DestinationPort, DirectListenOptions } from './destination-port.js';

export interface EarlyDestination extends DestinationPort {
  /** Starts the steps (once): the config as the receiver will read it, the source's info. */
  begin(config: DomainConfig, info: DomainInfo): void;
  /** Settles once the new QEMU's process was spawned, or the steps failed before it. */
  readonly spawned: Promise<void>;
}

interface Steps {
  config: DomainConfig;
  info: DomainInfo;
  refused: Promise<void>;
  checked: Promise<void>;
  started: ReturnType<DestinationPort['start']>;
  listening: ReturnType<DestinationPort['listenRam']>;
  settled: Promise<void>;
}

/** What of the domain info the host check and the start use (a disk's allocation may grow meanwhile). */
function startFacts(info: DomainInfo) {
  return { machine: info.machine, accel: info.accel, ramBytes: savedRamBytes(info) };
}

/** A step's promise, with no rejection left unhandled (the receiver's call sees it). */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

function mismatch(what: string): XlError {
  return new XlError(
    'XL_MIGRATION',
    `the receiver asked for ${what} other than the new QEMU was started with (an xl bug); nothing was taken over`,
  );
}

/**
 * `listen` must be a unix socket (`sameHost`): a TCP listener takes only the key the receiver
 * makes in the handshake, while a unix one needs none (the receiver's key is ignored there).
 */
export function startsEarly(port: DestinationPort, listen: DirectListenOptions): EarlyDestination {
  if (!listen.sameHost || listen.key !== undefined || listen.recover === true)
    throw new Error('an early destination listens on a unix socket, for a new migration');
  let steps: Steps | undefined;
  let spawn!: () => void;
  const spawned = new Promise<void>((resolve) => (spawn = resolve));
  /** The early steps, once the receiver's words are checked against them. */
  const same = (config: DomainConfig, info?: DomainInfo): Steps | undefined => {
    if (steps === undefined) return undefined;
    if (!isDeepStrictEqual(config, steps.config)) throw mismatch('a config');
    if (info !== undefined && !isDeepStrictEqual(startFacts(info), startFacts(steps.info)))
      throw mismatch('a machine, accelerator or RAM size');
    return steps;
  };
  return {
    get record() {
      return port.record;
    },
    get qmp() {
      return port.qmp;
    },
    get marks() {
      return port.marks;
    },
    // Forwarded as they are: a port without them does not know, which is not "no".
    ...(port.ranOnSharedRam ? { ranOnSharedRam: () => port.ranOnSharedRam!() } : {}),
    ...(port.guestRan ? { guestRan: () => port.guestRan!() } : {}),
    spawned,
    begin(config, info) {
      if (steps !== undefined) throw new Error('the early destination was begun twice');
      const refused = quiet(port.refuse(config));
      const checked = quiet(refused.then(() => port.hostCheck(info, config)));
      const started = quiet(checked.then(() => port.start(config, info, { onSpawn: spawn })));
      const listening = quiet(started.then(() => port.listenRam(listen)));
      const settled = listening.then(
        () => undefined,
        () => undefined,
      );
      void settled.then(spawn);
      steps = { config, info, refused, checked, started, listening, settled };
    },
    async refuse(config) {
      const s = same(config);
      return s === undefined ? port.refuse(config) : s.refused;
    },
    async hostCheck(info, config) {
      const s = same(config, info);
      return s === undefined ? port.hostCheck(info, config) : s.checked;
    },
    async start(config, info, o) {
      const s = same(config, info);
      if (s === undefined) return port.start(config, info, o);
      if (o.createdDisks !== undefined || o.prepare !== undefined) throw mismatch('disks to create');
      return s.started;
    },
    async listenRam(o) {
      if (steps === undefined) return port.listenRam(o);
      const { key: _unused, ...asked } = o;
      if (!isDeepStrictEqual(asked, listen)) throw mismatch('a RAM listener');
      return steps.listening;
    },
    receiveRam: (o) => port.receiveRam(o),
    adopt: (config) => port.adopt(config),
    markPostcopy: () => port.markPostcopy(),
    keep: (name) => port.keep(name),
    holdRecovery: () => port.holdRecovery(),
    armRecovery: () => port.armRecovery(),
    takeOver: (name, paused) => port.takeOver(name, paused),
    async destroy(o) {
      await steps?.settled;
      return port.destroy(o);
    },
    async close() {
      await steps?.settled;
      await port.close();
    },
  };
}
