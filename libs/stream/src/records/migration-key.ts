/**
 * MIGRATION_KEY (receiver to sender, migration back channel, right after the hellos when the
 * sender requires `direct-tls`): a fresh random key for this one migration. The direct
 * transport's TCP ports (the incoming QEMU's NBD server and migration listener) accept only a
 * peer that proves it holds it (TLS-PSK). It crosses only the migration pipe, which is ssh or
 * a local pipe. The value never prints: summaries, JSON and util.inspect show no key bytes.
 */
import { randomBytes } from 'node:crypto';
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';

export const MIGRATION_KEY_TYPE = XLKIT_MANDATORY_BASE + 12;
/** 256 bits, as raw bytes on the wire. */
export const MIGRATION_KEY_BYTES = 32;

const REDACTED = '[migration key]';

function bad(at: number, what: string, more: { expected?: string; actual?: number } = {}): StreamError {
  return new StreamError('STREAM_BAD_RECORD', what, { offset: at, recordType: MIGRATION_KEY_TYPE, ...more });
}

/** A key whose bytes reach only hex() (for QEMU's keys.psk); every printed form is redacted. */
export class MigrationKey {
  readonly #bytes: Buffer;

  /** `at`: the body's offset, for the error of a key read from a stream. */
  constructor(bytes: Buffer, at = 0) {
    if (bytes.length !== MIGRATION_KEY_BYTES)
      throw bad(at, 'migration key length', { expected: String(MIGRATION_KEY_BYTES), actual: bytes.length });
    // A peer's zeroed buffer is no key: refuse it rather than protect a port with it.
    if (bytes.every((b) => b === 0)) throw bad(at, 'migration key is all zero bytes');
    this.#bytes = Buffer.from(bytes);
  }

  /** A fresh key from the system's CSPRNG. */
  static generate(): MigrationKey {
    return new MigrationKey(randomBytes(MIGRATION_KEY_BYTES));
  }

  /** Lower-case hex, the form QEMU's tls-creds-psk key file takes. */
  hex(): string {
    return this.#bytes.toString('hex');
  }

  /** The raw bytes, for the record's body only. */
  bytes(): Buffer {
    return Buffer.from(this.#bytes);
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED;
  }
}

export const MIGRATION_KEY = defineRecord<MigrationKey>({
  type: MIGRATION_KEY_TYPE,
  name: 'MIGRATION_KEY',
  minLength: MIGRATION_KEY_BYTES,
  maxLength: MIGRATION_KEY_BYTES,
  maxCount: 1,
  decode: (body, _len, at) => new MigrationKey(head(body, MIGRATION_KEY_BYTES), at),
  encode: (v) => {
    if (!(v instanceof MigrationKey)) throw bad(0, 'a migration key must be a MigrationKey');
    return [v.bytes()];
  },
  summary: () => `${MIGRATION_KEY_BYTES}-byte migration key (not shown)`,
});
