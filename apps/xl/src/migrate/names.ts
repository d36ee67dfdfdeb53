/** Small shared pieces of the migrate flows: transient names, messages, expected records. */
import { StreamError, type StreamReader, type StreamRecord } from '@xlkit/stream';
import { XlError } from '../errors.js';

/** xl's transient names: both copies coexist under them during a same-host migration. */
export const incomingName = (name: string): string => `${name}--incoming`;
export const migratedAwayName = (name: string): string => `${name}--migratedaway`;

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

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
