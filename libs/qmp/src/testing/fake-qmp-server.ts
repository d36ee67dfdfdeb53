import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LineSplitter } from '../line-splitter.js';
import { isJsonObject, type JsonObject, type QmpVersion } from '../types.js';

/** Throw from a handler to answer with `{"error": {"class", "desc"}}`. */
export class FakeCommandError extends Error {
  constructor(
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`${errorClass}: ${desc}`);
  }
}

/** Return from a handler to send no reply at all (for timeout and disconnect tests). */
export const NO_REPLY: unique symbol = Symbol('no-reply');

export interface FakeCommandContext {
  server: FakeQmpServer;
  /** The socket of the client that sent the command. */
  socket: Socket;
  id: unknown;
}

/** Returns the `return` value (undefined = `{}`), NO_REPLY, or throws FakeCommandError. */
export type FakeHandler = (args: JsonObject, ctx: FakeCommandContext) => unknown;

export interface RecordedCommand {
  execute: string;
  arguments: JsonObject | undefined;
  id: unknown;
}

export interface FakeQmpServerOptions {
  handlers?: Record<string, FakeHandler>;
  version?: QmpVersion;
  capabilities?: string[];
  /** Raw greeting line to send instead of a well-formed one (no newline added). */
  rawGreeting?: string;
  /** Send nothing on connect (greeting timeout tests). */
  silent?: boolean;
  /** Listen here instead of in a fresh temp dir (the caller owns and removes its directory). */
  socketPath?: string;
}

/** The commands QEMU 7.2 allows as `exec-oob` (its QAPI schema's `allow-oob`). */
export const OOB_COMMANDS: readonly string[] = ['migrate-recover', 'migrate-pause', 'x-oob-test'];

interface ConnectionState {
  negotiated: boolean;
  /** `qmp_capabilities` enabled oob. */
  oob: boolean;
}

export const FAKE_QEMU_VERSION: QmpVersion = { qemu: { major: 7, minor: 2, micro: 22 }, package: 'fake' };

/**
 * A scripted QMP server on a real unix socket in a fresh temp dir: greeting, negotiation, a handler
 * table, recorded commands, events and raw bytes on demand.
 */
export class FakeQmpServer {
  readonly commands: RecordedCommand[] = [];
  private readonly handlers = new Map<string, FakeHandler>();
  private readonly sockets = new Set<Socket>();
  private readonly commandWaiters: Array<{ name: string; resolve: (c: RecordedCommand) => void }> = [];
  /** While set, in-band commands wait on it, as on a QEMU whose main loop is blocked. */
  private mainLoop: { released: Promise<void>; release: () => void } | undefined;

  private constructor(
    private readonly dir: string | undefined,
    readonly socketPath: string,
    private readonly server: Server,
    private readonly opts: FakeQmpServerOptions,
  ) {
    for (const [name, h] of Object.entries(opts.handlers ?? {})) this.handlers.set(name, h);
    server.on('connection', (s) => this.accept(s));
  }

  static async start(opts: FakeQmpServerOptions = {}): Promise<FakeQmpServer> {
    const dir = opts.socketPath === undefined ? await mkdtemp(join(tmpdir(), 'xlkit-fake-qmp-')) : undefined;
    const socketPath = opts.socketPath ?? join(dir ?? '', 'qmp.sock');
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => resolve());
    });
    return new FakeQmpServer(dir, socketPath, server, opts);
  }

  /** Adds or replaces a handler. */
  handle(name: string, handler: FakeHandler): void {
    this.handlers.set(name, handler);
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /** Sends an event to every connected client. */
  emitEvent(event: string, data?: JsonObject): void {
    const msg: JsonObject = { event, timestamp: { seconds: Math.floor(Date.now() / 1000), microseconds: 0 } };
    if (data !== undefined) msg['data'] = data;
    this.sendRaw(`${JSON.stringify(msg)}\r\n`);
  }

  /** Writes raw bytes to every connected client (split lines, merged lines, garbage). */
  sendRaw(bytes: string | Buffer): void {
    for (const s of this.sockets) s.write(bytes);
  }

  /** Sends one reply line with the given id. */
  reply(socket: Socket, id: unknown, value: unknown): void {
    socket.write(`${JSON.stringify({ return: value ?? {}, id })}\r\n`);
  }

  /**
   * In-band commands (negotiation too) and the greeting of a new client wait from now until
   * `unblockMainLoop()`, then go in order; `exec-oob` commands are still answered at once, as
   * QEMU's monitor I/O thread does while a vCPU holding its big lock waits for a missing page.
   */
  blockMainLoop(): void {
    if (this.mainLoop !== undefined) return;
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    this.mainLoop = { released, release };
  }

  unblockMainLoop(): void {
    this.mainLoop?.release();
    this.mainLoop = undefined;
  }

  /** Destroys every client connection (QEMU crashing). */
  dropConnections(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Resolves when a command with this name is received (or was already). */
  waitForCommand(name: string): Promise<RecordedCommand> {
    const seen = this.commands.find((c) => c.execute === name);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.commandWaiters.push({ name, resolve }));
  }

  /** Stops listening, drops clients and removes the temp dir. */
  async close(): Promise<void> {
    this.dropConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    const state: ConnectionState = { negotiated: false, oob: false };
    const splitter = new LineSplitter();
    socket.on('data', (chunk: Buffer) => {
      let lines: string[];
      try {
        lines = splitter.push(chunk);
      } catch {
        socket.destroy();
        return;
      }
      for (const line of lines) this.onLine(socket, line, state);
    });
    if (this.opts.silent) return;
    if (this.opts.rawGreeting !== undefined) {
      socket.write(this.opts.rawGreeting);
      return;
    }
    const greeting = {
      QMP: {
        version: this.opts.version ?? FAKE_QEMU_VERSION,
        capabilities: this.opts.capabilities ?? ['oob'],
      },
    };
    // Observed on QEMU 7.2: a client that connects while the main loop is blocked gets no greeting.
    const greet = () => socket.write(`${JSON.stringify(greeting)}\r\n`);
    if (this.mainLoop === undefined) greet();
    else void this.mainLoop.released.then(greet);
  }

  /** Out-of-band lines are handled at once; in-band ones after a blocked main loop, in order. */
  private onLine(socket: Socket, line: string, state: ConnectionState): void {
    let oob = false;
    try {
      const msg: unknown = JSON.parse(line);
      oob = isJsonObject(msg) && msg['exec-oob'] !== undefined;
    } catch {
      // Answered in band, as a parse error.
    }
    if (oob) {
      void this.handleLine(socket, line, state);
      return;
    }
    const blocked = this.mainLoop?.released;
    if (blocked === undefined) void this.handleLine(socket, line, state);
    else void blocked.then(() => this.handleLine(socket, line, state));
  }

  private async handleLine(socket: Socket, line: string, state: ConnectionState): Promise<void> {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      msg = undefined;
    }
    const name = isJsonObject(msg) ? (msg['execute'] ?? msg['exec-oob']) : undefined;
    if (!isJsonObject(msg) || typeof name !== 'string') {
      socket.write(`${JSON.stringify({ error: { class: 'GenericError', desc: 'JSON parse error' } })}\r\n`);
      return;
    }
    const args = isJsonObject(msg['arguments']) ? msg['arguments'] : undefined;
    const rec: RecordedCommand = { execute: name, arguments: args, id: msg['id'] };
    this.commands.push(rec);
    for (const w of this.commandWaiters.filter((x) => x.name === name)) {
      this.commandWaiters.splice(this.commandWaiters.indexOf(w), 1);
      w.resolve(rec);
    }
    const send = (body: JsonObject): void => {
      if (!socket.destroyed) socket.write(`${JSON.stringify({ ...body, id: rec.id })}\r\n`);
    };
    if (name === 'qmp_capabilities') {
      if (state.negotiated) {
        send({ error: { class: 'CommandNotFound', desc: 'Capabilities negotiation is already complete' } });
      } else {
        state.negotiated = true;
        const enable = args?.['enable'];
        state.oob = Array.isArray(enable) && enable.includes('oob');
        send({ return: {} });
      }
      return;
    }
    if (msg['exec-oob'] !== undefined && !state.oob) {
      send({ error: { class: 'GenericError', desc: "QMP input member 'exec-oob' is unexpected" } });
      return;
    }
    if (msg['exec-oob'] !== undefined && !OOB_COMMANDS.includes(name)) {
      send({ error: { class: 'GenericError', desc: `The command ${name} does not support OOB` } });
      return;
    }
    if (!state.negotiated) {
      send({
        error: {
          class: 'CommandNotFound',
          desc: "Expecting capabilities negotiation with 'qmp_capabilities'",
        },
      });
      return;
    }
    const handler = this.handlers.get(name);
    if (handler === undefined) {
      send({ error: { class: 'CommandNotFound', desc: `The command ${name} has not been found` } });
      return;
    }
    try {
      const value = await handler(args ?? {}, { server: this, socket, id: rec.id });
      if (value !== NO_REPLY) send({ return: value ?? {} });
    } catch (err) {
      if (err instanceof FakeCommandError) send({ error: { class: err.errorClass, desc: err.desc } });
      else send({ error: { class: 'GenericError', desc: String(err) } });
    }
  }
}
