/**
 * binary-parser decoders for every fixed-size structure of the format, built once at module
 * scope. Callers pass buffers of at least the structure's size; plain parser errors are
 * wrapped into StreamError.
 */
import { Parser } from 'binary-parser';
import { StreamError, asStreamError } from './errors.js';

export interface XlFixedHeader {
  magic: Buffer;
  byteorder: number;
  mandatoryFlags: number;
  optionalFlags: number;
  optionalDataLen: number;
}
export interface StreamHeaderFields {
  ident: bigint;
  version: number;
  options: number;
}
export interface RecordHeaderFields {
  type: number;
  length: number;
}
export interface EmulatorSubheader {
  emulatorId: number;
  index: number;
}
export interface RamChunkHeaderFields extends EmulatorSubheader {
  offset: bigint;
  crc32: number;
  reserved: number;
}
export interface RamEndFields extends EmulatorSubheader {
  total: bigint;
  algorithm: number;
  digestLength: number;
  digest: Buffer;
}
export interface PhaseFields {
  phase: number;
  reserved: number;
}

const xlFixed = new Parser()
  .endianness('little')
  .buffer('magic', { length: 32 })
  .uint32('byteorder')
  .uint32('mandatoryFlags')
  .uint32('optionalFlags')
  .uint32('optionalDataLen');
const streamHeader = new Parser().endianness('big').uint64('ident').uint32('version').uint32('options');
const recordHeader = new Parser().endianness('little').uint32('type').uint32('length');
const emulator = new Parser().endianness('little').uint32('emulatorId').uint32('index');
const ramChunk = new Parser()
  .endianness('little')
  .uint32('emulatorId')
  .uint32('index')
  .uint64('offset')
  .uint32('crc32')
  .uint32('reserved');
const ramEnd = new Parser()
  .endianness('little')
  .uint32('emulatorId')
  .uint32('index')
  .uint64('total')
  .uint32('algorithm')
  .uint32('digestLength')
  .buffer('digest', { length: 32 });
const phase = new Parser().endianness('little').uint32('phase').uint32('reserved');

/** Sizes the parsers decode; spec.test.ts pins them to SPEC.md. */
export const STRUCT_SIZES = {
  xlFixed: xlFixed.sizeOf(),
  streamHeader: streamHeader.sizeOf(),
  recordHeader: recordHeader.sizeOf(),
  emulator: emulator.sizeOf(),
  ramChunk: ramChunk.sizeOf(),
  ramEnd: ramEnd.sizeOf(),
  phase: phase.sizeOf(),
} as const;

function run<T>(parser: Parser, size: number, buf: Buffer, what: string, offset: number | undefined): T {
  if (buf.length < size) {
    throw new StreamError('STREAM_TRUNCATED', `${what} is short`, {
      offset,
      expected: size,
      actual: buf.length,
    });
  }
  try {
    return parser.parse(buf) as T;
  } catch (err) {
    throw asStreamError(err, 'STREAM_BAD_RECORD', `cannot decode ${what}`, { offset });
  }
}

export const decodeXlFixed = (b: Buffer, at?: number) =>
  run<XlFixedHeader>(xlFixed, STRUCT_SIZES.xlFixed, b, 'xl header', at);
export const decodeStreamHeaderFields = (b: Buffer, at?: number) =>
  run<StreamHeaderFields>(streamHeader, STRUCT_SIZES.streamHeader, b, 'stream header', at);
export const decodeRecordHeader = (b: Buffer, at?: number) =>
  run<RecordHeaderFields>(recordHeader, STRUCT_SIZES.recordHeader, b, 'record header', at);
export const decodeEmulator = (b: Buffer, at?: number) =>
  run<EmulatorSubheader>(emulator, STRUCT_SIZES.emulator, b, 'emulator sub-header', at);
export const decodeRamChunkHeader = (b: Buffer, at?: number) =>
  run<RamChunkHeaderFields>(ramChunk, STRUCT_SIZES.ramChunk, b, 'RAM chunk header', at);
export const decodeRamEnd = (b: Buffer, at?: number) =>
  run<RamEndFields>(ramEnd, STRUCT_SIZES.ramEnd, b, 'RAM end', at);
export const decodePhase = (b: Buffer, at?: number) =>
  run<PhaseFields>(phase, STRUCT_SIZES.phase, b, 'phase', at);
