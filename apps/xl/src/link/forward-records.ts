/**
 * The receiver's reads of the sender's forward stream: the next record, never null, and the
 * next record of an expected kind. A MIGRATION_ERROR in its place is the sender giving up.
 */
import { StreamError, type StreamReader, type StreamRecord } from '@xlkit/stream';
import { XlError } from '../errors.js';

/** The next record, never null: an ended or broken stream is an XL_MIGRATION error naming `what`. */
export async function nextExpected(reader: StreamReader, peer: string, what: string): Promise<StreamRecord> {
  let rec: StreamRecord | null;
  try {
    rec = await reader.next();
  } catch (err) {
    if (err instanceof StreamError && (err.code === 'STREAM_TRUNCATED' || err.code === 'STREAM_IO')) {
      throw new XlError('XL_MIGRATION', `the ${peer} closed the connection before ${what}`, { cause: err });
    }
    throw err;
  }
  if (rec === null) throw new XlError('XL_MIGRATION', `the ${peer}'s stream ended before ${what}`);
  return rec;
}

/** The error for `rec` arriving where `expected` belongs (the sender's own words if it gave up). */
export function unexpectedRecord(rec: StreamRecord, expected: string): XlError {
  if (rec.name === 'MIGRATION_ERROR')
    return new XlError('XL_MIGRATION', `the sender gave up: ${rec.value.message}`);
  return new XlError(
    'XL_MIGRATION',
    `the sender sent ${rec.name} at byte ${rec.offset} where ${expected} belongs`,
  );
}

/** Reads `PHASE n` from the sender. */
export async function expectPhase(reader: StreamReader, phase: number): Promise<void> {
  const rec = await nextExpected(reader, 'sender', `PHASE ${phase}`);
  if (rec.name !== 'PHASE' || rec.value.phase !== phase) throw unexpectedRecord(rec, `PHASE ${phase}`);
}
