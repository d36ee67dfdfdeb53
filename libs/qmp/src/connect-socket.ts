import { createConnection, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { QmpConnectError } from './errors.js';

const RETRYABLE = new Set(['ENOENT', 'ECONNREFUSED', 'EAGAIN']);

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function tryConnect(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const onError = (err: Error): void => {
      socket.destroy();
      reject(err);
    };
    socket.once('error', onError);
    socket.once('connect', () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

/**
 * Connects to a unix socket, retrying while QEMU has not created or is not yet listening on it
 * (ENOENT/ECONNREFUSED) until `timeoutMs` has passed.
 */
export async function connectSocket(
  path: string,
  timeoutMs: number,
  retryIntervalMs: number,
): Promise<Socket> {
  const deadline = Date.now() + timeoutMs;
  let attempts = 0;
  for (;;) {
    attempts++;
    try {
      return await tryConnect(path);
    } catch (err) {
      const code = errnoOf(err);
      const left = deadline - Date.now();
      if (code === undefined || !RETRYABLE.has(code) || left <= 0) {
        const why =
          code !== undefined && RETRYABLE.has(code)
            ? `still ${code} after ${attempts} attempts`
            : `${code ?? err}`;
        throw new QmpConnectError(path, `connect ${path}: expected a listening QMP socket, got ${why}`, {
          cause: err,
        });
      }
      await sleep(Math.min(retryIntervalMs, left));
    }
  }
}
