import { QmpProtocolError } from './errors.js';

/** Default bound on one QMP line, like libvirt and qemu.qmp (10 MiB). */
export const DEFAULT_MAX_LINE_BYTES = 10 * 1024 * 1024;

/**
 * Splits a byte stream into lines on `\n`, trimming a trailing `\r`. Bytes are decoded as UTF-8 only
 * once a whole line is present, so multi-byte characters split across chunks survive. A line longer
 * than `maxLineBytes` throws before it is buffered further.
 */
export class LineSplitter {
  private parts: Buffer[] = [];
  private pendingBytes = 0;

  constructor(private readonly maxLineBytes: number = DEFAULT_MAX_LINE_BYTES) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 1) {
      throw new RangeError(`maxLineBytes: expected a positive integer, got ${maxLineBytes}`);
    }
  }

  /** Feeds one chunk; returns the complete lines it finished (possibly none). */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl === -1) break;
      this.checkBound(nl - start);
      this.parts.push(chunk.subarray(start, nl));
      const line = Buffer.concat(this.parts).toString('utf8');
      this.parts = [];
      this.pendingBytes = 0;
      lines.push(line.endsWith('\r') ? line.slice(0, -1) : line);
      start = nl + 1;
    }
    if (start < chunk.length) {
      this.checkBound(chunk.length - start);
      this.parts.push(chunk.subarray(start));
      this.pendingBytes += chunk.length - start;
    }
    return lines;
  }

  /** Bytes held for an unfinished line. */
  get buffered(): number {
    return this.pendingBytes;
  }

  private checkBound(extra: number): void {
    const total = this.pendingBytes + extra;
    if (total > this.maxLineBytes) {
      throw new QmpProtocolError(
        `line too long: expected at most ${this.maxLineBytes} bytes, got ${total} without a newline`,
      );
    }
  }
}
