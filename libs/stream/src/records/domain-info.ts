/** DOMAIN_INFO (phase 1): what the destination needs to start an identical QEMU. */
import { DOMAIN_INFO_MAX, Phase, XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { defineRecord } from '../record-codec.js';
import { isJsonObject as isObject, jsonBody } from './json-body.js';

export interface DiskInfo {
  id: string;
  format: string;
  /** Virtual size in bytes. */
  virtualSize: number;
  /** Allocated bytes on the host. */
  allocation: number;
}

export interface DomainInfo {
  qemuVersion: string;
  machine: string;
  accel: string;
  memoryMiB: number;
  /**
   * The guest's exact RAM in bytes when it is not memoryMiB whole MiB (xl's TCG RAM tail):
   * at least memoryMiB MiB, below memoryMiB + 1 MiB, a multiple of 8 KiB (QEMU's RAM granularity).
   * Absent: memoryMiB MiB.
   */
  memoryBytes?: number;
  vcpus: number;
  disks: DiskInfo[];
}

const TYPE = XLKIT_MANDATORY_BASE + 1;
const json = jsonBody({ type: TYPE, what: 'domain info', maxLength: DOMAIN_INFO_MAX });

function fail(what: string, at: number): StreamError {
  return new StreamError('STREAM_BAD_RECORD', `domain info: ${what}`, { offset: at, recordType: TYPE });
}

function str(o: Record<string, unknown>, k: string, at: number): string {
  const v = o[k];
  if (typeof v !== 'string' || v === '') throw fail(`${k} must be a non-empty string`, at);
  return v;
}

function int(o: Record<string, unknown>, k: string, min: number, at: number): number {
  const v = o[k];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    throw fail(`${k} must be an integer >= ${min}`, at);
  return v;
}

const MIB = 1024 * 1024;

/** QEMU rounds guest RAM up to 8 KiB: no other size can describe a running guest. */
const RAM_GRANULE = 8192;

/** memoryBytes, when present, must describe the same MiB as memoryMiB in QEMU's granules. */
function exactMemory(v: Record<string, unknown>, memoryMiB: number, at: number): { memoryBytes?: number } {
  if (v.memoryBytes === undefined) return {};
  const bytes = int(v, 'memoryBytes', 1, at);
  if (bytes < memoryMiB * MIB || bytes >= (memoryMiB + 1) * MIB || bytes % RAM_GRANULE !== 0) {
    throw fail(
      `memoryBytes must be a multiple of 8 KiB from ${memoryMiB * MIB} to below ${(memoryMiB + 1) * MIB} (memoryMiB ${memoryMiB}), got ${bytes}`,
      at,
    );
  }
  return { memoryBytes: bytes };
}

/** Check a parsed DOMAIN_INFO value; `at` is used in errors. */
export function checkDomainInfo(v: unknown, at = 0): DomainInfo {
  if (!isObject(v)) throw fail('body is not a JSON object', at);
  if (!Array.isArray(v.disks)) throw fail('disks must be an array', at);
  const disks = v.disks.map((d: unknown) => {
    if (!isObject(d)) throw fail('disk entry is not an object', at);
    return {
      ...d,
      id: str(d, 'id', at),
      format: str(d, 'format', at),
      virtualSize: int(d, 'virtualSize', 0, at),
      allocation: int(d, 'allocation', 0, at),
    };
  });
  const memoryMiB = int(v, 'memoryMiB', 1, at);
  return {
    ...v,
    qemuVersion: str(v, 'qemuVersion', at),
    machine: str(v, 'machine', at),
    accel: str(v, 'accel', at),
    memoryMiB,
    ...exactMemory(v, memoryMiB, at),
    vcpus: int(v, 'vcpus', 1, at),
    disks,
  };
}

export const DOMAIN_INFO = defineRecord<DomainInfo>({
  type: TYPE,
  name: 'DOMAIN_INFO',
  minLength: json.minLength,
  maxLength: json.maxLength,
  phase: Phase.BOOTSTRAP,
  maxCount: 1,
  decode: (body, len, at) => checkDomainInfo(json.decode(body, len, at), at),
  encode: (v) => json.encode(checkDomainInfo(v)),
  summary: (v) =>
    `qemu ${v.qemuVersion} ${v.machine} ${v.accel}, ${v.memoryBytes === undefined ? `${v.memoryMiB} MiB` : `${v.memoryBytes / 1024} KiB`}, ${v.vcpus} vcpus, disks ${v.disks.map((d) => `${d.id}:${d.format}:${d.virtualSize}`).join(',') || 'none'}`,
});
