import type { Duplex } from 'node:stream';
import { connectSocket } from './connect-socket.js';
import { defaultTimeoutFor } from './default-timeouts.js';
import {
  QmpCommandError,
  QmpConnectError,
  QmpError,
  QmpInterruptedError,
  QmpProtocolError,
  QmpStateError,
  QmpTimeoutError,
} from './errors.js';
import { EventListener, type EventFilter } from './event-listener.js';
import { DEFAULT_MAX_LINE_BYTES, LineSplitter } from './line-splitter.js';
import { parseMessage, type QmpMessage } from './parse-message.js';
import type { QmpEvent, QmpGreeting } from './types.js';

export interface QmpConnectOptions {
  /** Total time to keep retrying ENOENT/ECONNREFUSED (default 10 s). */
  connectTimeoutMs?: number;
  /** Pause between connection attempts (default 50 ms). */
  retryIntervalMs?: number;
  /** Time allowed for the greeting plus `qmp_capabilities` (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Bound on one incoming line (default 10 MiB). */
  maxLineBytes?: number;
  /**
   * Out-of-band execution (default false): `true` enables it if the server offers it,
   * `'required'` fails the connection with QmpConnectError when it does not.
   */
  oob?: boolean | 'required';
}

export interface ExecuteOptions {
  /** Reply timeout; default depends on the command (see defaultTimeoutFor); 0 = none. */
  timeoutMs?: number;
  /**
   * Send as `exec-oob`: QEMU runs it at once in its monitor I/O thread, even while its main loop
   * is blocked (a command it allows out of band; the connection must have negotiated oob).
   */
  oob?: boolean;
}

export type QmpClientState = 'handshake' | 'running' | 'closed';

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** A QMP connection: id-routed commands, per-subscriber event queues, bounded line reading. */
export class QmpClient {
  /** Settles (never rejects) when the connection ends for any reason. */
  readonly closed: Promise<void>;
  private stateValue: QmpClientState = 'handshake';
  private oobValue = false;
  private greetingValue: QmpGreeting | undefined;
  private onGreeting: ((g: QmpGreeting) => void) | undefined;
  private failure: QmpError | undefined;
  private readonly pending = new Map<string, Pending>();
  private readonly listeners = new Set<EventListener>();
  private readonly splitter: LineSplitter;
  private nextId = 0;
  private resolveClosed!: () => void;

  private constructor(
    private readonly stream: Duplex,
    maxLineBytes: number,
  ) {
    this.splitter = new LineSplitter(maxLineBytes);
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err) =>
      this.teardown(
        new QmpError('QMP_CONNECT', `QMP stream: expected an open connection, got ${err.message}`, {
          cause: err,
        }),
      ),
    );
    stream.on('close', () => this.teardown(undefined));
    stream.on('end', () => this.teardown(undefined));
  }

  /** Connects to QEMU's QMP unix socket, reads the greeting and negotiates capabilities. */
  static async connect(socketPath: string, opts: QmpConnectOptions = {}): Promise<QmpClient> {
    const socket = await connectSocket(
      socketPath,
      opts.connectTimeoutMs ?? 10_000,
      opts.retryIntervalMs ?? 50,
    );
    return QmpClient.fromStream(socket, opts, socketPath);
  }

  /** Runs the handshake over an already-open stream (a socket, or an in-memory Duplex in tests). */
  static async fromStream(
    stream: Duplex,
    opts: QmpConnectOptions = {},
    socketPath?: string,
  ): Promise<QmpClient> {
    const client = new QmpClient(stream, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
    try {
      await client.handshake(opts.handshakeTimeoutMs ?? 10_000, opts.oob ?? false);
      return client;
    } catch (err) {
      await client.close();
      if (err instanceof QmpConnectError) throw err;
      throw new QmpConnectError(
        socketPath,
        `QMP handshake: expected greeting and negotiation, got ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  get state(): QmpClientState {
    return this.stateValue;
  }

  /** The server greeting, including QEMU's version. */
  get greeting(): QmpGreeting {
    if (this.greetingValue === undefined) throw new QmpStateError(this.stateValue, 'greeting received');
    return this.greetingValue;
  }

  /** Whether this connection negotiated out-of-band execution (`exec-oob`). */
  get oobEnabled(): boolean {
    return this.oobValue;
  }

  /** The error that ended the connection, if it did not end by `close()` or a clean EOF. */
  get error(): QmpError | undefined {
    return this.failure;
  }

  /** Sends a command and settles with its `return` value, or a QmpCommandError/Timeout/Interrupted error. */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    opts: ExecuteOptions = {},
  ): Promise<T> {
    if (this.stateValue === 'closed') {
      return Promise.reject(new QmpStateError('closed', 'connected', { command, cause: this.failure }));
    }
    if (opts.oob === true && !this.oobValue) {
      // QEMU would refuse it anyway; said here, before anything is written.
      return Promise.reject(new QmpStateError('without oob', 'oob negotiated for exec-oob', { command }));
    }
    const id = `xlkit-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? defaultTimeoutFor(command);
    const msg: Record<string, unknown> = { [opts.oob ? 'exec-oob' : 'execute']: command, id };
    if (args !== undefined) msg['arguments'] = args;
    return new Promise<T>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new QmpTimeoutError(command, timeoutMs, { command }));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      this.stream.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /** Subscribes to events (all, or those named), each subscriber with its own queue. */
  listen(names?: string | readonly string[], filter?: EventFilter): EventListener {
    const listener = new EventListener(names, filter, (l) => this.listeners.delete(l));
    if (this.stateValue === 'closed')
      listener.end(new QmpInterruptedError(`listen(${String(names ?? '*')})`));
    else this.listeners.add(listener);
    return listener;
  }

  /**
   * Resolves with the next matching event. The listener is registered synchronously, so events that
   * a command sent after this call triggers are never missed.
   */
  waitForEvent(name: string, filter?: EventFilter, opts: { timeoutMs?: number } = {}): Promise<QmpEvent> {
    const listener = this.listen(name, filter);
    const result = listener.get({ timeoutMs: opts.timeoutMs ?? 0 }).finally(() => listener.close());
    // The documented pattern arms the wait before sending a command that may fail; if the caller then
    // never awaits it, a later rejection (close, timeout) must not surface as an unhandled rejection.
    result.catch(() => undefined);
    return result;
  }

  /** Rejects pending commands, ends listeners and destroys the stream. */
  async close(): Promise<void> {
    this.teardown(undefined);
    await this.closed;
  }

  private async handshake(timeoutMs: number, wantOob: boolean | 'required'): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new QmpTimeoutError('QMP greeting', timeoutMs)), timeoutMs);
    });
    const ended = this.closed.then(() => {
      throw this.failure ?? new QmpProtocolError('connection closed before the QMP greeting');
    });
    try {
      const greeting = await Promise.race([
        new Promise<QmpGreeting>((resolve) => (this.onGreeting = resolve)),
        timeout,
        ended,
      ]);
      const offered = greeting.capabilities.includes('oob');
      if (wantOob === 'required' && !offered) {
        throw new QmpProtocolError(
          `expected a monitor offering oob, got capabilities ${JSON.stringify(greeting.capabilities).slice(0, 200)}`,
        );
      }
      const enable = wantOob !== false && offered ? { enable: ['oob'] } : undefined;
      await Promise.race([this.execute('qmp_capabilities', enable, { timeoutMs }), timeout]);
      this.oobValue = enable !== undefined;
      this.stateValue = 'running';
    } finally {
      clearTimeout(timer);
    }
  }

  private onData(chunk: Buffer): void {
    if (this.stateValue === 'closed') return;
    try {
      for (const line of this.splitter.push(chunk)) {
        if (line.trim() === '') continue;
        this.route(parseMessage(line));
        if ((this.stateValue as QmpClientState) === 'closed') return;
      }
    } catch (err) {
      this.teardown(err instanceof QmpError ? err : new QmpProtocolError(String(err), { cause: err }));
    }
  }

  private route(msg: QmpMessage): void {
    switch (msg.kind) {
      case 'greeting':
        if (this.greetingValue !== undefined) throw new QmpProtocolError('unexpected second QMP greeting');
        this.greetingValue = msg.greeting;
        this.onGreeting?.(msg.greeting);
        return;
      case 'event':
        for (const l of [...this.listeners]) l.deliver(msg.event);
        return;
      case 'return':
      case 'error': {
        const p = typeof msg.id === 'string' ? this.pending.get(msg.id) : undefined;
        if (p === undefined) {
          // Spec: an error without id means QEMU could not parse our input; fatal. Unknown ids are dropped.
          if (msg.kind === 'error' && msg.id === undefined) {
            throw new QmpProtocolError(`server could not parse a command: ${msg.errorClass}: ${msg.desc}`);
          }
          return;
        }
        this.pending.delete(msg.id as string);
        clearTimeout(p.timer);
        if (msg.kind === 'return') p.resolve(msg.value);
        else p.reject(new QmpCommandError(p.command, msg.errorClass, msg.desc));
        return;
      }
    }
  }

  private teardown(failure: QmpError | undefined): void {
    if (this.stateValue === 'closed') return;
    this.stateValue = 'closed';
    this.failure = failure;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new QmpInterruptedError(p.command, { cause: failure }));
    }
    this.pending.clear();
    for (const l of [...this.listeners])
      l.end(new QmpInterruptedError('waiting for events', { cause: failure }));
    this.listeners.clear();
    this.stream.destroy();
    this.resolveClosed();
  }
}
