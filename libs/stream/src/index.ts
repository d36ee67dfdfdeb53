export * from './constants.js';
export { JSON_MAX_DEPTH, jsonDepthViolation, type JsonBoundsViolation } from './json-bounds.js';
export {
  StreamError,
  type StreamErrorCode,
  type StreamErrorDetails,
  type StreamErrorValue,
} from './errors.js';
export {
  encodeXlHeader,
  decodeXlHeader,
  decodeXlFixedHeader,
  decodeXlOptionalData,
  type XlHeader,
} from './xl-header.js';
export { encodeStreamHeader, decodeStreamHeader, type StreamHeader } from './stream-header.js';
export { STRUCT_SIZES, decodeRecordHeader } from './structs.js';
export { defineRecord, type RecordCodec, type CodecValue } from './record-codec.js';
export {
  RECORD_CODECS,
  RecordType,
  codecForType,
  recordTypeName,
  type RecordName,
  type RecordValueMap,
  type StreamRecord,
  type RecordOf,
} from './record-types.js';
export { checkDomainInfo, type DomainInfo, type DiskInfo } from './records/domain-info.js';
export { crc32Of, type RamChunk } from './records/ram-chunk.js';
export type { RamEnd } from './records/ram-end.js';
export { checkDiskPlan, type DiskPlan, type PlannedDisk, type MirrorTransport } from './records/disk-plan.js';
export { checkDiskExports, type DiskExports, type DiskExport } from './records/disk-exports.js';
export {
  TUNNEL_CHANNEL_MAX,
  TUNNEL_CREDIT_MAX,
  TunnelService,
  type TunnelOpen,
  type TunnelCredit,
  type TunnelClose,
} from './records/tunnel-control.js';
export { TUNNEL_DATA_MAX, type TunnelData } from './records/tunnel-data.js';
export {
  checkMigrationHello,
  FEATURE_NAME,
  HOSTNAME,
  type MigrationHello,
} from './records/migration-hello.js';
export { checkRamEndpoint, type RamEndpoint } from './records/ram-endpoint.js';
export { RAM_RETURN_MAX, type RamReturn } from './records/ram-return.js';
export { MIGRATION_KEY_BYTES, MigrationKey } from './records/migration-key.js';
export { checkMigrationError, type MigrationErrorInfo } from './records/migration-error.js';
export type { EmulatorContext, XenstoreData } from './records/emulator.js';
export { RamDigest } from './ram-digest.js';
export { crc32Backend } from './crc32.js';
export { StreamReader, readStream, type ReaderOptions, type StreamHeaders } from './stream-reader.js';
export {
  StreamWriter,
  createStreamWriter,
  type RamFramingOptions,
  type RamFramingResult,
} from './stream-writer.js';
export type { ByteInput } from './byte-source.js';
export { readableChunks, type ChunkStats } from './readable-chunks.js';
