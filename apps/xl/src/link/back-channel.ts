/**
 * The sender's view of the receiver's framed back channel after the hellos: PHASE_READY per
 * phase, MIGRATION_ERROR when the receiver gives up, END once it holds the whole domain.
 * Phase 2 adds its records (tunnel data and credit) through `onRecord`.
 */
import { StreamError, type StreamReader, type StreamRecord } from '@xlkit/stream';
import { XlError } from '../errors.js';

export type BackRecordHandler = (rec: StreamRecord) => boolean | Promise<boolean>;

function receiverError(message: string, cause?: unknown): XlError {
  return new XlError('XL_MIGRATION', message, { cause });
}

async function next(back: StreamReader, what: string): Promise<StreamRecord> {
  let rec: StreamRecord | null;
  try {
    rec = await back.next();
  } catch (err) {
    if (err instanceof StreamError && (err.code === 'STREAM_TRUNCATED' || err.code === 'STREAM_IO')) {
      throw receiverError(`the receiver closed the connection while ${what}`, err);
    }
    throw receiverError(`bad data from the receiver while ${what}: ${(err as Error).message}`, err);
  }
  if (rec === null) throw receiverError(`the receiver's back channel ended while ${what}`);
  if (rec.name === 'MIGRATION_ERROR') {
    throw new XlError('XL_MIGRATION', `the receiver failed (${rec.value.stage}): ${rec.value.message}`);
  }
  return rec;
}

/** Waits for PHASE_READY of `phase`, handing other records to `onRecord` (which returns whether it took them). */
export async function waitPhaseReady(
  back: StreamReader,
  phase: number,
  onRecord?: BackRecordHandler,
): Promise<void> {
  for (;;) {
    const rec = await next(back, `it set up phase ${phase}`);
    if (rec.name === 'PHASE_READY' && rec.value.phase === phase) return;
    if (onRecord !== undefined && (await onRecord(rec))) continue;
    throw receiverError(`the receiver sent ${rec.name} where PHASE_READY ${phase} belongs`);
  }
}

/** Reads the back channel up to its END (the receiver has the whole domain and QEMU completed). */
export async function waitBackEnd(back: StreamReader, onRecord?: BackRecordHandler): Promise<void> {
  for (;;) {
    const rec = await next(back, 'it received the domain');
    if (rec.name === 'END') return;
    if (onRecord !== undefined && (await onRecord(rec))) continue;
    throw receiverError(`the receiver sent an unexpected ${rec.name} record`);
  }
}
