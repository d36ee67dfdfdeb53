/**
 * Post-copy recovery, the destination's half. When the link breaks during post-copy both QEMUs
 * go to `postcopy-paused`. Under TCG the guest's vCPU may then wait for a page that never comes
 * while it holds QEMU's big lock (an interrupt reading the guest's IDT, seen in gdb), so the
 * main loop stops: no in-band QMP command runs, and a client that connects gets not even the
 * greeting. Only `exec-oob` on a connection negotiated before still runs, in the monitor's I/O
 * thread, and `migrate-recover` is allowed out of band; its listener then lives in that thread.
 *
 * So the receiver holds an oob connection to the incoming QEMU's recovery monitor (a second
 * monitor: the main one is its own QMP connection) from before post-copy starts, and when the
 * link breaks it arms the recovery at once: `migrate-recover` on a unix socket in the domain's
 * dir. The receiver then ends; `xl migrate --resume` later connects the new stream to that
 * socket (relayed), or has the source QEMU connect to it (direct), with no QMP needed until
 * pages flow again. Proven by hand on QEMU 7.2 (TCG, the project's guest): a fresh connection
 * timed out waiting for the greeting, the held one got `migrate-recover` through, and the
 * source's `migrate resume=true` completed it with the RAM checker clean.
 */
import { lstat, readFile, rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { migrateRecover, QmpClient, QmpCommandError } from '@xlkit/qmp';
import { XlError } from '../errors.js';

export interface ArmOptions {
  /** How long QEMU may take to notice the broken link and pause (default 15 s). */
  timeoutMs?: number;
  pollMs?: number;
  /**
   * After this long still refused, QEMU is made to pause (`migrate-pause`; default never). Only
   * for a link xl is not part of: where xl closes QEMU's channel itself (relayed), QEMU sees the
   * EOF at once and pauses on its own.
   */
  pauseAfterMs?: number;
}

/** An out-of-band connection to an incoming QEMU's recovery monitor. */
export class RecoveryMonitor {
  private constructor(private readonly qmp: QmpClient) {}

  /** Connects while QEMU still answers (before post-copy starts); requires oob. */
  static async open(monitorPath: string, handshakeTimeoutMs = 10_000): Promise<RecoveryMonitor> {
    const qmp = await QmpClient.connect(monitorPath, {
      oob: 'required',
      connectTimeoutMs: 5_000,
      handshakeTimeoutMs,
    }).catch((err: unknown) => {
      throw new XlError(
        'XL_QEMU_FAILED',
        `cannot open the post-copy recovery monitor ${monitorPath}: ${err instanceof Error ? err.message : String(err)}`,
        { cause: err },
      );
    });
    return new RecoveryMonitor(qmp);
  }

  /** Whether the connection still stands (QEMU alive, not closed). */
  get open(): boolean {
    return this.qmp.state === 'running';
  }

  /**
   * `migrate-recover` out of band, listening on `socketPath`: retried while QEMU has not paused
   * yet (it refuses until `postcopy-paused`), for at most `timeoutMs`. A destination whose link
   * went silent rather than reset (the source's end failed, nothing comes to read, no page
   * request went out since) would go on waiting for minutes of TCP retries: the caller knows the
   * sender is gone, so after `pauseAfterMs` (if given) QEMU is told to pause (`migrate-pause`,
   * oob, as libvirt does for a post-copy it lost), which shuts its end of the channel down.
   */
  async arm(socketPath: string, o: ArmOptions = {}): Promise<void> {
    const started = Date.now();
    const deadline = started + (o.timeoutMs ?? 15_000);
    let paused = false;
    await rm(socketPath, { force: true });
    for (;;) {
      try {
        await migrateRecover(this.qmp, { uri: `unix:${socketPath}` }, { oob: true, timeoutMs: 5_000 });
        return;
      } catch (err) {
        // Any refusal of QEMU's may be "not paused yet"; anything else (a closed connection) is final.
        if (!(err instanceof QmpCommandError) || Date.now() >= deadline) {
          throw new XlError(
            'XL_QEMU_FAILED',
            `QEMU did not take migrate-recover: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        }
        if (!paused && Date.now() - started >= (o.pauseAfterMs ?? Infinity)) {
          paused = true;
          // Refused when it paused meanwhile (or the migration ended): the next try says which.
          await this.qmp
            .execute('migrate-pause', undefined, { oob: true, timeoutMs: 5_000 })
            .catch(() => undefined);
        }
        await sleep(o.pollMs ?? 100);
      }
    }
  }

  async close(): Promise<void> {
    await this.qmp.close();
  }
}

/**
 * Whether a recovery is armed on `socketPath`: QEMU listens there. The file alone says nothing:
 * QEMU stops listening once a resume connected, and leaves the socket file behind; pointing a
 * source at it then leaves that QEMU in postcopy-recover for good (7.2). A listening unix
 * socket shows in /proc/net/unix with the __SO_ACCEPTCON flag (00010000) and its path.
 */
export async function recoveryArmed(socketPath: string, procNetUnix = '/proc/net/unix'): Promise<boolean> {
  const st = await lstat(socketPath).catch(() => undefined);
  if (st?.isSocket() !== true) return false;
  const table = await readFile(procNetUnix, 'utf8').catch(() => '');
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f.length >= 8 && f[3] === '00010000' && f.slice(7).join(' ') === socketPath;
  });
}

/**
 * A new oob connection to the recovery monitor and `migrate-recover` through it: for a resume
 * that broke before its receiver held the monitor again. It negotiates only while QEMU's main
 * loop runs (`qmp_capabilities` is in-band), hence the short wait.
 */
export async function armAfresh(
  monitorPath: string,
  socketPath: string,
  o: ArmOptions & { handshakeTimeoutMs?: number } = {},
): Promise<void> {
  const monitor = await RecoveryMonitor.open(monitorPath, o.handshakeTimeoutMs ?? 5_000);
  try {
    await monitor.arm(socketPath, o);
  } finally {
    await monitor.close().catch(() => undefined);
  }
}
