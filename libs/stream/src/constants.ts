/** Numbers and sizes of the stream format; SPEC.md is the prose version of this file. */

/** xl's save-file magic: 27 text characters, LF, space, NUL, space, CR (32 bytes). */
export const XL_MAGIC = Buffer.from('Xen saved domain, xl format\n \0 \r', 'latin1');
export const XL_BYTEORDER = 0x01020304;
export const XL_MANDATORY_FLAG_JSON = 1 << 0;
export const XL_MANDATORY_FLAG_STREAMV2 = 1 << 1;
export const XL_MANDATORY_FLAGS_KNOWN = XL_MANDATORY_FLAG_JSON | XL_MANDATORY_FLAG_STREAMV2;
/** magic + byteorder + mandatory + optional flags + optional_data_len. */
export const XL_HEADER_FIXED_SIZE = 48;
/** Largest optional data (config) the reader accepts before allocating it. */
export const XL_OPTIONAL_DATA_MAX = 16 * 1024 * 1024;

/** libxl stream header: "LibxlFmt" big-endian. */
export const STREAM_IDENT = 0x4c6962786c466d74n;
export const STREAM_VERSION = 2;
export const STREAM_HEADER_SIZE = 16;
export const STREAM_OPTION_BIG_ENDIAN = 1 << 0;
export const STREAM_OPTION_LEGACY = 1 << 1;

export const RECORD_HEADER_SIZE = 8;
export const RECORD_ALIGN = 8;
/** Default cap on a record body, like libxc's REC_LENGTH_MAX. */
export const RECORD_LENGTH_MAX = 128 * 1024 * 1024;
export const RECORD_OPTIONAL_BIT = 0x80000000;

/** xlkit's own record type block ("XL" in the high half), mandatory and optional. */
export const XLKIT_MANDATORY_BASE = 0x584c0000;
export const XLKIT_OPTIONAL_BASE = 0xd84c0000;

export const EMULATOR_SUBHEADER_SIZE = 8;
export const EmulatorId = { UNKNOWN: 0, QEMU_TRADITIONAL: 1, QEMU_UPSTREAM: 2 } as const;

export const Phase = { BOOTSTRAP: 1, DISK_MIRROR: 2, RAM: 3 } as const;
export type PhaseNumber = (typeof Phase)[keyof typeof Phase];
export const PHASE_NAMES: Record<number, string> = { 1: 'bootstrap', 2: 'disk-mirror', 3: 'ram' };

/** emulator sub-header + u64 offset + u32 crc32 + u32 reserved. */
export const RAM_CHUNK_HEADER_SIZE = 24;
/** Largest RAM chunk payload. */
export const RAM_CHUNK_MAX = 4 * 1024 * 1024;
export const DigestAlgorithm = { CRC_LIST_SHA256: 1 } as const;
export const RAM_DIGEST_SIZE = 32;
/** emulator sub-header + u64 total + u32 algorithm + u32 digest length + digest. */
export const RAM_END_SIZE = 24 + RAM_DIGEST_SIZE;
export const DOMAIN_INFO_MAX = 1024 * 1024;

/** Round a body length up to the record alignment. */
export function paddedLength(length: number): number {
  return length + ((RECORD_ALIGN - (length % RECORD_ALIGN)) % RECORD_ALIGN);
}

export function isOptionalType(type: number): boolean {
  return (type & RECORD_OPTIONAL_BIT) !== 0;
}
