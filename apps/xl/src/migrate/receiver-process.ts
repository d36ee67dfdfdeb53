/**
 * The receiver as a child process: its stdin is the forward stream, its stdout the back
 * channel, its stderr is forwarded line by line (prefixed) to ours. It runs in its own process
 * group, so a terminal's Ctrl-C reaches only the sender, which then aborts in order.
 */
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { execa, type ResultPromise } from 'execa';
import type { SendBuffer } from '@xlkit/os-tune';
import { XlError } from '../errors.js';
import type { ReceiverCommand } from './receiver-argv.js';
import { settleWithin } from '../settle-within.js';
import { enlargeSendBuffer } from '../host/send-buffer.js';

export interface ReceiverProcess {
  stdin: Writable;
  stdout: Readable;
  /** The forward stream's send buffer as the kernel set it (undefined: left at its default). */
  forwardBuffer: SendBuffer | undefined;
  /** Settles (never rejects) when the child has exited. */
  exited: Promise<{ exitCode?: number; signal?: string }>;
  /** Closes the forward stream (the receiver sees EOF), waits up to graceMs, then kills. */
  stop(graceMs: number): Promise<void>;
  /** Its stderr is no longer forwarded (it has nothing to say: it was told nothing). */
  mute(): void;
}

/** Forwards the child's stderr, one prefixed line at a time (lines are bounded), until muted. */
function forwardLines(from: Readable, to: NodeJS.WritableStream, prefix: string): { mute(): void } {
  let pending = '';
  let muted = false;
  from.setEncoding('utf8');
  from.on('data', (text: string) => {
    if (muted) return;
    pending += text;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      to.write(`${prefix}${pending.slice(0, nl)}\n`);
      pending = pending.slice(nl + 1);
    }
    if (pending.length > 4096) {
      to.write(`${prefix}${pending}\n`);
      pending = '';
    }
  });
  from.on('end', () => {
    if (pending !== '' && !muted) to.write(`${prefix}${pending}\n`);
  });
  from.on('error', () => undefined);
  return {
    mute() {
      muted = true;
    },
  };
}

export function spawnReceiver(
  cmd: ReceiverCommand,
  stderr: NodeJS.WritableStream,
  env: NodeJS.ProcessEnv,
): ReceiverProcess {
  let child: ResultPromise;
  try {
    child = execa(cmd.file, cmd.args, {
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      detached: true,
      cleanup: true,
      env,
      extendEnv: false,
    });
  } catch (err) {
    throw new XlError(
      'XL_MIGRATION',
      `cannot start the receiver command ${cmd.file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const stdin = child.stdin!;
  const stdout = child.stdout!;
  stdin.on('error', () => undefined); // EPIPE when the receiver is gone: seen as a failed write or EOF.
  // The forward stream is a unix socket pair (Node's child stdio), whose default 208 KiB let
  // the receiver (or ssh) run dry whenever this xl was busy reading QEMU: 4 MiB cut the -q
  // tunnel's mirror phase by 0.18-0.60 s in each of 5 alternating pairs. What can queue ahead
  // of a tunnel frame was and stays bounded by the RAM credit and the channels' windows (the
  // writer's queue is first in, first out either way): this moves it, it adds none.
  const forwardBuffer = enlargeSendBuffer(stdin as Socket);
  const lines = forwardLines(child.stderr!, stderr, 'migration receiver: ');
  // execa's own promise also waits for stdout to be read to its end, which the back channel
  // may never do (it stops at the END record or a refusal): the process's exit is what counts.
  child.catch(() => undefined);
  let gone = false;
  const exited = new Promise<{ exitCode?: number; signal?: string }>((resolve) => {
    const done = (code: number | null, signal: NodeJS.Signals | null) => {
      gone = true;
      resolve({ ...(code === null ? {} : { exitCode: code }), ...(signal === null ? {} : { signal }) });
    };
    if (child.exitCode !== null || child.signalCode !== null) done(child.exitCode, child.signalCode);
    else child.once('exit', done);
  });
  return {
    stdin,
    stdout,
    forwardBuffer,
    exited,
    mute: () => lines.mute(),
    async stop(graceMs) {
      if (!stdin.destroyed) stdin.destroy();
      if (gone) {
        stdout.destroy();
        return;
      }
      if (!(await settleWithin(exited, graceMs))) {
        child.kill('SIGKILL');
        await exited;
      }
      stdout.destroy();
    },
  };
}
