/**
 * xl's switch-over strings after both framed streams ended: READY (R→S), GO (S→R, the point
 * of no return), the REPORT and its status byte (R→S), and GO echoed back when the receiver
 * destroyed its copy (xl's rule: only then may the sender resume its own).
 */
import type { Writable } from 'node:stream';
import { errorMessage, XlError } from '../errors.js';
import type { ByteChannel } from './byte-channel.js';
import { SWITCHOVER_TIMEOUT_MS, within } from './deadline.js';
import { GO, READY, REPORT, ReportStatus, showBytes } from './protocol.js';

export function writeRaw(out: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(b, (err) => (err ? reject(err) : resolve())));
}

/** R→S: the whole domain arrived and QEMU completed. */
export const sendReady = (out: Writable): Promise<void> => writeRaw(out, READY);

/** S: waits for READY. */
export const expectReady = (rest: ByteChannel): Promise<void> => rest.expect(READY, 'the ready message');

/** S→R: the point of no return. */
export const sendGo = (out: Writable): Promise<void> => writeRaw(out, GO);

/**
 * R: bytes came where GO belongs, and they are not GO. Nothing but GO follows the sender's END,
 * so the sender did send it (garbled on the way) and now waits for the report: the receiver
 * answers as after GO, where destroying its copy releases the sender.
 */
export class GarbledGo extends XlError {
  override name = 'GarbledGo';
  constructor(got: Buffer) {
    super('XL_MIGRATION', `the sender sent ${showBytes(got)} where the go-ahead was expected`);
  }
}

/** R: waits (bounded) for GO; GarbledGo when other bytes came instead (EOF or a cut GO: XL_MIGRATION_HANDSHAKE). */
export async function expectGo(rest: ByteChannel): Promise<void> {
  const got = await within(rest.peek(GO.length), SWITCHOVER_TIMEOUT_MS, 'waiting for the go-ahead');
  if (got.length > 0 && !got.equals(GO.subarray(0, got.length))) throw new GarbledGo(got);
  await rest.expect(GO, 'the go-ahead');
}

/** R→S: the guest runs here (or is paused with -p): the sender may destroy its copy. */
export const reportRunning = (out: Writable): Promise<void> =>
  writeRaw(out, Buffer.concat([REPORT, Buffer.from([ReportStatus.RUNNING])]));

/** R→S: this copy could not take over and is destroyed; GO echoed back releases the sender. */
export const reportReleased = (out: Writable): Promise<void> =>
  writeRaw(out, Buffer.concat([REPORT, Buffer.from([ReportStatus.FAILED]), GO]));

/** R→S: this copy could not take over and could not be stopped either: the sender is not released. */
export const reportFailed = (out: Writable): Promise<void> =>
  writeRaw(out, Buffer.concat([REPORT, Buffer.from([ReportStatus.FAILED])]));

/** What the receiver reported after GO. */
export type Report = { status: 'running' } | { status: 'released' };

/**
 * S: the receiver's report. Running, or released (it destroyed its copy and echoed GO); any
 * other answer (silence, EOF, garbage, a failure without the echo) leaves the domain's place
 * unknown and is thrown as such (`undecided`).
 */
export async function readReport(rest: ByteChannel): Promise<Report> {
  const report = await within(
    rest.readUpTo(REPORT.length + 1),
    SWITCHOVER_TIMEOUT_MS,
    "waiting for the receiver's report",
  ).catch((err: unknown) => {
    throw undecided(errorMessage(err));
  });
  if (report.length < REPORT.length + 1 || !report.subarray(0, REPORT.length).equals(REPORT)) {
    throw undecided(
      report.length === 0
        ? 'the receiver closed the connection without reporting'
        : 'the receiver sent a malformed report',
    );
  }
  const status = report[REPORT.length];
  if (status === ReportStatus.RUNNING) return { status: 'running' };
  const echo = await within(
    rest.readUpTo(GO.length),
    SWITCHOVER_TIMEOUT_MS,
    'waiting for the receiver to release the domain',
  ).catch(() => Buffer.alloc(0));
  if (!echo.equals(GO))
    throw undecided(`the receiver reported failure (status ${String(status)}) without releasing the domain`);
  return { status: 'released' };
}

/** The sender cannot tell where the domain runs: after GO this is never rolled back. */
function undecided(why: string): XlError {
  return new XlError('XL_MIGRATION', why);
}
