/**
 * The control socket of a running `xl migrate`: `xl migrate-status` and `xl migrate-abort`
 * reach the migration through it from another shell. It is local (migrate-control.sock in the
 * source domain's dir, mode 0600, removed when the migration ends) and no part of the
 * migration stream (link/PROTOCOL.md).
 *
 * Line protocol. A client writes requests, each one JSON object on one line of at most 4096
 * bytes before its newline, and reads one JSON line per request:
 *   {"command":"status"}   -> {"ok":true,"status":{...}}   (MigrationStatus, status-board.ts)
 *   {"command":"abort"}    -> {"ok":true}  before GO: the migration rolls back, the domain stays
 *                             {"ok":false,"reason":"past the point of no return"}  once GO (or
 *                             post-copy) began
 *   {"command":"postcopy"} -> {"ok":true} (switches at the RAM phase's next sample), or
 *                              {"ok":false,"reason":...} without --postcopy, after GO, or when already in post-copy
 * A longer line, or one that is not such a request, gets {"ok":false,"reason":"..."} and the
 * connection is closed. A connection idle for 10 s is closed; at most 8 are served at once.
 */
import net from 'node:net';
import path from 'node:path';
import { chmod, lstat, rm } from 'node:fs/promises';
import { errorMessage, XlError } from '../errors.js';
import {
  MAX_REQUEST_BYTES,
  MAX_STATUS_STRING,
  parseRequest,
  type ControlReply,
  type ControlRequest,
} from './control-protocol.js';
import { canAbort, type BoardSession, type StatusBoard } from './status-board.js';

export const CONTROL_IDLE_MS = 10_000;
const MAX_CLIENTS = 8;
/** How long a socket left at the path may take to show it is alive (another xl migrate). */
const ALIVE_PROBE_MS = 1_000;

export const ABORT_REASON = 'aborted by xl migrate-abort';

export interface ControlServer {
  readonly path: string;
  /** Stops serving, drops the connections, removes the socket (if it is still ours). */
  close(): Promise<void>;
}

/** Listens on `socketPath` (in the domain's dir) for the migration `session`, whose live status is `board`. */
export async function listenControl(
  socketPath: string,
  board: StatusBoard,
  session: BoardSession,
): Promise<ControlServer> {
  await clearStale(socketPath);
  const clients = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    clients.add(socket);
    socket.once('close', () => clients.delete(socket));
    serve(socket, (req) => answer(req, board, session));
  });
  server.maxConnections = MAX_CLIENTS;
  const stop = (): Promise<void> =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const c of clients) c.destroy();
    });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => undefined);
    await chmod(socketPath, 0o600);
  } catch (err) {
    if (server.listening) await stop().catch(() => undefined);
    throw new XlError(
      'XL_MIGRATION',
      `cannot listen on the control socket ${socketPath}: ${errorMessage(err)}`,
      {
        cause: err,
      },
    );
  }
  const { ino } = await lstat(socketPath);
  return {
    path: socketPath,
    async close() {
      await stop();
      const st = await lstat(socketPath).catch(() => undefined);
      if (st?.isSocket() === true && st.ino === ino) await rm(socketPath, { force: true });
    },
  };
}

function answer(req: ControlRequest, board: StatusBoard, session: BoardSession): ControlReply {
  switch (req.command) {
    case 'status': {
      const s = board.snapshot();
      return {
        ok: true,
        status: {
          ...s,
          domain: s.domain.slice(0, MAX_STATUS_STRING),
          host: s.host.slice(0, MAX_STATUS_STRING),
        },
      };
    }
    case 'abort':
      if (!canAbort(session)) return { ok: false, reason: 'past the point of no return' };
      if (!session.failure.signal.aborted) session.failure.abort(new XlError('XL_INTERRUPTED', ABORT_REASON));
      return { ok: true };
    case 'postcopy':
      if (session.postcopyActive === true) return { ok: false, reason: 'already in post-copy' };
      if (session.goSent) return { ok: false, reason: 'past the point of no return' };
      if (session.settings?.postcopy === undefined)
        return { ok: false, reason: 'this migration was not started with --postcopy' };
      session.postcopyRequested = true;
      return { ok: true };
  }
}

/** Reads requests line by line (bounded before anything is joined), answers each. Never throws. */
function serve(socket: net.Socket, handle: (req: ControlRequest) => ControlReply): void {
  let pending: Buffer[] = [];
  let size = 0;
  let done = false;
  socket.setTimeout(CONTROL_IDLE_MS, () => socket.destroy());
  socket.on('error', () => undefined);
  const reply = (r: ControlReply): string => `${JSON.stringify(r)}\n`;
  const refuse = (reason: string): void => {
    done = true;
    pending = [];
    socket.pause();
    socket.once('finish', () => socket.destroy());
    socket.end(reply({ ok: false, reason }));
  };
  const tooLong = (n: number) =>
    refuse(`request too long: expected at most ${MAX_REQUEST_BYTES} bytes per line, got ${n} or more`);
  socket.on('data', (chunk: Buffer) => {
    if (done) return;
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      if (size + nl - from > MAX_REQUEST_BYTES) return tooLong(size + nl - from);
      pending.push(chunk.subarray(from, nl));
      const line = Buffer.concat(pending).toString('utf8');
      pending = [];
      size = 0;
      from = nl + 1;
      let req: ControlRequest;
      try {
        req = parseRequest(line);
      } catch (err) {
        return refuse(errorMessage(err));
      }
      try {
        socket.write(reply(handle(req)));
      } catch (err) {
        // A bug here must not take the migration down with it.
        return refuse(`internal error: ${errorMessage(err)}`);
      }
    }
    const rest = chunk.length - from;
    if (size + rest > MAX_REQUEST_BYTES) return tooLong(size + rest);
    if (rest > 0) {
      pending.push(chunk.subarray(from));
      size += rest;
    }
  });
}

/**
 * Before listening: only a stale socket of ours is removed. The path must be in a directory of
 * this user (the domain's dir); something other than a socket there, or a socket that answers
 * (another xl migrate of this domain), is refused.
 */
async function clearStale(socketPath: string): Promise<void> {
  const dir = path.dirname(socketPath);
  const uid = process.geteuid?.();
  const d = await lstat(dir).catch(() => undefined);
  if (d === undefined || !d.isDirectory() || (uid !== undefined && d.uid !== uid)) {
    const got =
      d === undefined ? 'nothing' : d.isDirectory() ? `one of uid ${d.uid}` : 'another kind of file';
    throw new XlError(
      'XL_MIGRATION',
      `cannot listen on ${socketPath}: expected a directory of this user (uid ${uid ?? '?'}) at ${dir}, got ${got}`,
    );
  }
  const st = await lstat(socketPath).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (st === undefined) return;
  if (!st.isSocket())
    throw new XlError(
      'XL_MIGRATION',
      `cannot listen on ${socketPath}: expected a stale socket or nothing there, got another kind of file`,
    );
  if (await answers(socketPath))
    throw new XlError(
      'XL_MIGRATION',
      `another xl migrate of this domain is running: its control socket ${socketPath} answers`,
    );
  await rm(socketPath, { force: true });
}

/** Whether something accepts connections on the unix socket `p`. */
function answers(p: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ path: p });
    const done = (alive: boolean) => {
      clearTimeout(timer);
      s.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(true), ALIVE_PROBE_MS);
    s.once('connect', () => done(true));
    s.once('error', () => done(false));
  });
}
