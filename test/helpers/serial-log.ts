import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { heartbeats, serialLines } from './console-lines.js';

/** The serial log so far ('' while QEMU has not created it yet). */
export async function readSerial(serialLog: string): Promise<string> {
  try {
    return await readFile(serialLog, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  }
}

export interface WaitOptions {
  /** Checked on every poll: when it returns a message, waiting fails at once (e.g. QEMU exited). */
  abortIf?: () => string | undefined;
  pollMs?: number;
}

function tail(text: string, lines = 15): string {
  return serialLines(text).filter(Boolean).slice(-lines).join('\n');
}

/** Polls the serial log until `found(text)` returns a value; throws with the log's tail on timeout. */
export async function waitForSerial<T>(
  serialLog: string,
  found: (text: string) => T | undefined,
  timeoutMs: number,
  what: string,
  options: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await readSerial(serialLog);
    const value = found(text);
    if (value !== undefined) return value;
    const aborted = options.abortIf?.();
    if (aborted !== undefined) {
      throw new Error(`${aborted} while waiting for ${what}; serial log ends:\n${tail(text)}`);
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; serial log ends:\n${tail(text)}`);
    }
    await sleep(options.pollMs ?? 100);
  }
}

/** Waits for a line matching `pattern`; returns its match. */
export function waitForLine(
  serialLog: string,
  pattern: RegExp,
  timeoutMs: number,
  options?: WaitOptions,
): Promise<RegExpExecArray> {
  return waitForSerial(
    serialLog,
    (text) => {
      for (const line of serialLines(text)) {
        const m = pattern.exec(line);
        if (m) return m;
      }
      return undefined;
    },
    timeoutMs,
    `a line matching ${pattern}`,
    options,
  );
}

/** Waits until the log holds `count` heartbeat lines; returns the last counter seen. */
export function waitForHeartbeats(
  serialLog: string,
  count: number,
  timeoutMs: number,
  options?: WaitOptions,
): Promise<number> {
  return waitForSerial(
    serialLog,
    (text) => {
      const beats = heartbeats(text);
      return beats.length >= count ? beats[beats.length - 1] : undefined;
    },
    timeoutMs,
    `${count} heartbeats`,
    options,
  );
}

/** The last heartbeat counter in the log, or undefined before the first one. */
export async function lastHeartbeat(serialLog: string): Promise<number | undefined> {
  const beats = heartbeats(await readSerial(serialLog));
  return beats[beats.length - 1];
}
