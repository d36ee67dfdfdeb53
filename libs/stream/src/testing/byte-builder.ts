/**
 * Test-only byte builder: writes streams straight from SPEC.md's tables with plain Buffer
 * calls, independent of the writer under test. Also builds deliberately broken streams.
 */
import { createHash } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const T = {
  END: 0x0,
  LIBXC_CONTEXT: 0x1,
  EMULATOR_XENSTORE_DATA: 0x2,
  EMULATOR_CONTEXT: 0x3,
  CHECKPOINT_END: 0x4,
  CHECKPOINT_STATE: 0x5,
  DOMAIN_INFO: 0x584c0001,
  PHASE: 0x584c0002,
  RAM_CHUNK: 0x584c0003,
  RAM_END: 0x584c0004,
} as const;

export function u32le(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
}
export function u32be(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
}
export function u64le(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

export function xlHeader(configJson: string, flags = 3): Buffer {
  const cfg = Buffer.from(`${configJson}\0`, 'utf8');
  return Buffer.concat([
    Buffer.from('Xen saved domain, xl format\n \0 \r', 'latin1'),
    Buffer.from([0x04, 0x03, 0x02, 0x01]),
    u32le(flags),
    u32le(0),
    u32le(4 + cfg.length),
    u32le(cfg.length),
    cfg,
  ]);
}

export function streamHeader(version = 2, options = 0): Buffer {
  return Buffer.concat([Buffer.from('LibxlFmt', 'latin1'), u32be(version), u32be(options)]);
}

export function record(type: number, body: Buffer = Buffer.alloc(0), padByte = 0): Buffer {
  const pad = (8 - (body.length % 8)) % 8;
  return Buffer.concat([u32le(type), u32le(body.length), body, Buffer.alloc(pad, padByte)]);
}

export const emu = (id = 2, index = 0) => Buffer.concat([u32le(id), u32le(index)]);
export const end = () => record(T.END);
export const phase = (p: number) => record(T.PHASE, Buffer.concat([u32le(p), u32le(0)]));
export const emulatorContext = (data: Buffer) => record(T.EMULATOR_CONTEXT, Buffer.concat([emu(), data]));

export const DOMAIN_INFO_JSON = {
  qemuVersion: '7.2.0',
  machine: 'pc-i440fx-7.2',
  accel: 'tcg',
  memoryMiB: 64,
  vcpus: 1,
  disks: [{ id: 'xvda', format: 'qcow2', virtualSize: 1048576, allocation: 4096 }],
};
export const domainInfo = (v: object = DOMAIN_INFO_JSON) =>
  record(T.DOMAIN_INFO, Buffer.from(`${JSON.stringify(v)}\0`));

/** RAM chunk records plus RAM_END for `payload` split into chunks of `size` bytes. */
export function ramStream(payload: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  const digest = createHash('sha256');
  for (let off = 0; off < payload.length; off += size) {
    const p = payload.subarray(off, off + size);
    const c = crc32(p) >>> 0;
    out.push(record(T.RAM_CHUNK, Buffer.concat([emu(), u64le(off), u32le(c), u32le(0), p])));
    digest.update(Buffer.concat([u64le(off), u32le(p.length), u32le(c)]));
  }
  out.push(
    record(T.RAM_END, Buffer.concat([emu(), u64le(payload.length), u32le(1), u32le(32), digest.digest()])),
  );
  return out;
}

/** A full xlkit stream: xl header, header, phase 1 + domain info, phase 3 + RAM, END. */
export function fullStream(payload: Buffer, size = 4096): Buffer {
  return Buffer.concat([
    xlHeader('{"name":"vm1"}'),
    streamHeader(),
    phase(1),
    domainInfo(),
    phase(3),
    ...ramStream(payload, size),
    end(),
  ]);
}

/** Deterministic pseudo-random bytes. */
export function pattern(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    b[i] = x & 0xff;
  }
  return b;
}

/** Flip bits of one byte in place. */
export function flip(b: Buffer, at: number, mask = 1): void {
  b[at] = (b[at] ?? 0) ^ mask;
}
