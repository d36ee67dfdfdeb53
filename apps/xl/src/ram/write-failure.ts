/**
 * A failed write said in words: "no space left on device writing FILE" rather than the
 * STREAM_IO or errno code it surfaced as, found anywhere in the error's cause chain.
 */
const WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EFBIG: 'file too large',
  EIO: 'input/output error',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
};

/** The words for the first errno in `err`'s cause chain that has some, with the file; else undefined. */
export function writeFailure(err: unknown, file: string): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e instanceof Error && depth < 10; depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && Object.hasOwn(WORDS, code)) return `${WORDS[code]} writing ${file}`;
    e = e.cause;
  }
  return undefined;
}
