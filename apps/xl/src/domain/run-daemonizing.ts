/**
 * Runs a program that daemonizes (QEMU with -daemonize) and waits for its first process to
 * exit, which QEMU does once the daemon finished starting: stdin and stdout closed, stderr
 * appended to a log file, bounded by a timeout (the process is killed then). node's own spawn:
 * execa's option handling took 5-20 ms of CPU before the fork, on the path of every domain
 * start (and of an upgrade's, where the new QEMU's start is the longest wait).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';

export type DaemonizeResult =
  | { failed: false }
  | { failed: true; timedOut: boolean; notFound: boolean; exitCode?: number; signal?: string; error?: Error };

export interface DaemonizeOptions {
  env: NodeJS.ProcessEnv;
  /** Where its stderr goes (appended; opened 0600 if it does not exist). */
  logFile: string;
  timeoutMs: number;
  /** Called once the process was spawned (it is starting). */
  onSpawn?: () => void;
}

export function runDaemonizing(
  file: string,
  args: readonly string[],
  o: DaemonizeOptions,
): Promise<DaemonizeResult> {
  return new Promise((resolve) => {
    let log: number;
    try {
      log = openSync(o.logFile, 'a', 0o600);
    } catch (err) {
      resolve({ failed: true, timedOut: false, notFound: false, error: err as Error });
      return;
    }
    let timedOut = false;
    let settled = false;
    const done = (r: DaemonizeResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(file, args, { env: o.env, stdio: ['ignore', 'ignore', log] });
    } catch (err) {
      closeSync(log);
      resolve({ failed: true, timedOut: false, notFound: false, error: err as Error });
      return;
    }
    // The child holds its own copy of the log's descriptor.
    closeSync(log);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, o.timeoutMs);
    child.on('error', (err: NodeJS.ErrnoException) =>
      done({ failed: true, timedOut, notFound: err.code === 'ENOENT', error: err }),
    );
    child.on('exit', (code, signal) =>
      done(
        code === 0 && !timedOut
          ? { failed: false }
          : {
              failed: true,
              timedOut,
              notFound: false,
              ...(code === null ? {} : { exitCode: code }),
              ...(signal === null ? {} : { signal }),
            },
      ),
    );
    o.onSpawn?.();
  });
}
