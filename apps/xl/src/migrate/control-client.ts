/**
 * The client end of a migration's control socket (control-server.ts): one request, one reply,
 * bounded in size and in time. The reply is untrusted input: it is checked before use.
 */
import net from 'node:net';
import { XlError } from '../errors.js';
import {
  ControlProtocolError,
  MAX_REPLY_BYTES,
  parseReply,
  type ControlCommand,
  type ControlReply,
} from './control-protocol.js';

export const CONTROL_TIMEOUT_MS = 5_000;

/** Connecting failed this way: no xl migrate listens there (nothing, or a stale socket). */
const NOBODY = new Set(['ENOENT', 'ECONNREFUSED', 'ENOTDIR', 'ENOTSOCK']);

/** Nobody listens on the control socket: no `xl migrate` of this domain runs. */
export class ControlUnavailable extends XlError {
  override name = 'ControlUnavailable';
  constructor(
    readonly socketPath: string,
    reason: string,
  ) {
    super('XL_MIGRATION', `no xl migrate listens on ${socketPath} (${reason})`);
  }
}

/** Sends `command` to the xl migrate listening on `socketPath`; resolves with its checked reply. */
export function askControl(
  socketPath: string,
  command: ControlCommand,
  timeoutMs = CONTROL_TIMEOUT_MS,
): Promise<ControlReply> {
  return new Promise<ControlReply>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let connected = false;
    let settled = false;
    const socket = net.connect({ path: socketPath });
    const finish = (err: Error | undefined, reply?: ControlReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err !== undefined) reject(err);
      else resolve(reply!);
    };
    const timer = setTimeout(
      () =>
        finish(
          new XlError(
            'XL_MIGRATION',
            `the xl migrate on ${socketPath} did not answer: expected a reply within ${timeoutMs} ms, got none`,
          ),
        ),
      timeoutMs,
    );
    socket.once('connect', () => {
      connected = true;
      socket.write(`${JSON.stringify({ command })}\n`);
    });
    socket.on('data', (chunk: Buffer) => {
      const nl = chunk.indexOf(0x0a);
      const take = nl < 0 ? chunk.length : nl;
      if (size + take > MAX_REPLY_BYTES)
        return finish(
          new ControlProtocolError(
            `reply too long: expected at most ${MAX_REPLY_BYTES} bytes, got ${size + take} without a newline`,
          ),
        );
      chunks.push(chunk.subarray(0, take));
      size += take;
      if (nl < 0) return;
      try {
        finish(undefined, parseReply(Buffer.concat(chunks).toString('utf8'), command));
      } catch (err) {
        finish(err as Error);
      }
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? err.message;
      finish(
        !connected && NOBODY.has(code)
          ? new ControlUnavailable(socketPath, code)
          : new XlError('XL_MIGRATION', `cannot talk to the xl migrate on ${socketPath}: ${code}`, {
              cause: err,
            }),
      );
    });
    // Closed without a word: it is going away (the migration just ended).
    socket.once('close', () =>
      finish(
        size === 0
          ? new ControlUnavailable(socketPath, 'closed without a reply')
          : new ControlProtocolError(
              `the xl migrate on ${socketPath} closed the connection: expected a reply line, got ${size} bytes without a newline`,
            ),
      ),
    );
  });
}
