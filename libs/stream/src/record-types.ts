/**
 * The central record table: every record type the reader and writer know, Xen's and xlkit's.
 * New records (mirror control, tunnel data, feature negotiation) are added here and in
 * SPEC.md section 4.1; numbers come from the xlkit block (see SPEC.md section 7).
 */
import { isOptionalType } from './constants.js';
import type { CodecValue, RecordCodec } from './record-codec.js';
import { CHECKPOINT_STATE } from './records/checkpoint-state.js';
import { DOMAIN_INFO } from './records/domain-info.js';
import { EMULATOR_CONTEXT, EMULATOR_XENSTORE_DATA } from './records/emulator.js';
import { CHECKPOINT_END, END, LIBXC_CONTEXT } from './records/empty.js';
import { PHASE } from './records/phase.js';
import { RAM_CHUNK } from './records/ram-chunk.js';
import { RAM_END } from './records/ram-end.js';
import { DISK_PLAN } from './records/disk-plan.js';
import { DISK_EXPORTS } from './records/disk-exports.js';
import { MIRROR_READY } from './records/mirror-ready.js';
import { TUNNEL_CLOSE, TUNNEL_CREDIT, TUNNEL_OPEN } from './records/tunnel-control.js';
import { TUNNEL_DATA } from './records/tunnel-data.js';
import { MIGRATION_HELLO } from './records/migration-hello.js';
import { MIGRATION_ERROR } from './records/migration-error.js';
import { PHASE_READY } from './records/phase-ready.js';
import { RAM_CREDIT } from './records/ram-credit.js';
import { RAM_ENDPOINT } from './records/ram-endpoint.js';
import { POSTCOPY_GO } from './records/postcopy-go.js';
import { RAM_RETURN } from './records/ram-return.js';
import { MIGRATION_KEY } from './records/migration-key.js';

export const RECORD_CODECS = {
  END,
  LIBXC_CONTEXT,
  EMULATOR_XENSTORE_DATA,
  EMULATOR_CONTEXT,
  CHECKPOINT_END,
  CHECKPOINT_STATE,
  DOMAIN_INFO,
  PHASE,
  RAM_CHUNK,
  RAM_END,
  DISK_PLAN,
  DISK_EXPORTS,
  MIRROR_READY,
  TUNNEL_OPEN,
  TUNNEL_DATA,
  TUNNEL_CREDIT,
  TUNNEL_CLOSE,
  MIGRATION_HELLO,
  MIGRATION_ERROR,
  PHASE_READY,
  RAM_CREDIT,
  RAM_ENDPOINT,
  POSTCOPY_GO,
  RAM_RETURN,
  MIGRATION_KEY,
} as const;

export type RecordName = keyof typeof RECORD_CODECS;
export type RecordValueMap = { [K in RecordName]: CodecValue<(typeof RECORD_CODECS)[K]> };

/** Record type numbers by name. */
export const RecordType = Object.fromEntries(
  Object.entries(RECORD_CODECS).map(([name, c]) => [name, c.type]),
) as { readonly [K in RecordName]: number };

const BY_TYPE = new Map<number, RecordCodec<unknown>>();
for (const codec of Object.values(RECORD_CODECS) as RecordCodec<unknown>[]) {
  if (BY_TYPE.has(codec.type)) throw new Error(`record type 0x${codec.type.toString(16)} defined twice`);
  BY_TYPE.set(codec.type, codec);
}

export function codecForType(type: number): RecordCodec<unknown> | undefined {
  return BY_TYPE.get(type);
}

/** Name of a known type, or a hex description of an unknown one. */
export function recordTypeName(type: number): string {
  return (
    BY_TYPE.get(type)?.name ??
    `${isOptionalType(type) ? 'UNKNOWN_OPTIONAL' : 'UNKNOWN'}(0x${type.toString(16).padStart(8, '0')})`
  );
}

/** A decoded record as the reader yields it. */
export type StreamRecord = {
  [K in RecordName]: {
    name: K;
    type: number;
    /** Byte offset of the record header in the input. */
    offset: number;
    /** Body length (without padding). */
    length: number;
    value: RecordValueMap[K];
  };
}[RecordName];

export type RecordOf<K extends RecordName> = Extract<StreamRecord, { name: K }>;
