/** The crc-list-sha256 end-to-end digest of a RAM stream (SPEC.md 4.6). */
import { createHash, type Hash } from 'node:crypto';

export class RamDigest {
  #hash: Hash = createHash('sha256');
  #entry = Buffer.alloc(16);
  /** Payload bytes accounted so far (= the next chunk's expected offset). */
  total = 0;
  chunks = 0;

  /** Account one chunk; its offset must be checked by the caller. */
  update(offset: number, length: number, crc: number): void {
    this.#entry.writeBigUInt64LE(BigInt(offset), 0);
    this.#entry.writeUInt32LE(length, 8);
    this.#entry.writeUInt32LE(crc >>> 0, 12);
    this.#hash.update(this.#entry);
    this.total += length;
    this.chunks += 1;
  }

  digest(): Buffer {
    return this.#hash.copy().digest();
  }
}
