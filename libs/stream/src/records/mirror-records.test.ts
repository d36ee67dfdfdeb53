import { describe, expect, it } from 'vitest';
import { StreamError } from '../errors.js';
import { DISK_PLAN, type DiskPlan } from './disk-plan.js';
import { DISK_EXPORTS } from './disk-exports.js';
import { TUNNEL_CLOSE, TUNNEL_CREDIT, TUNNEL_OPEN } from './tunnel-control.js';
import { TUNNEL_DATA, TUNNEL_DATA_MAX } from './tunnel-data.js';
import { MIRROR_READY } from './mirror-ready.js';
import type { RecordCodec } from '../record-codec.js';

function roundTrip<T>(codec: RecordCodec<T>, value: T): T {
  const body = codec.encode(value);
  const len = body.reduce((n, b) => n + b.length, 0);
  return codec.decode(body, len, 0, {});
}

function decodeJson<T>(codec: RecordCodec<T>, text: string): T {
  const b = Buffer.from(`${text}\0`);
  return codec.decode([b], b.length, 0, {});
}

const plan: DiskPlan = {
  hostId: 'b1d3',
  transport: 'tunnel',
  syncWrites: false,
  reuseTarget: false,
  targetDir: '/srv/disks',
  disks: [
    {
      id: 'xvda',
      format: 'raw',
      virtualSize: 1 << 30,
      allocation: 4096,
      path: '/a/disk.raw',
      dev: 2049,
      ino: 77,
    },
  ],
};

describe('DISK_PLAN', () => {
  it("round-trips, with and without the sender's network namespace", () => {
    expect(roundTrip(DISK_PLAN, plan)).toEqual(plan);
    const withNs = { ...plan, netns: 'net:[4026531840]', mntns: 'mnt:[4026531841]', uid: 0 };
    expect(roundTrip(DISK_PLAN, withNs)).toEqual(withNs);
    expect(() => decodeJson(DISK_PLAN, JSON.stringify({ ...plan, netns: 7 }))).toThrow(StreamError);
    expect(() => decodeJson(DISK_PLAN, JSON.stringify({ ...plan, uid: -1 }))).toThrow(StreamError);
    expect(() => decodeJson(DISK_PLAN, JSON.stringify({ ...plan, mntns: 'x'.repeat(257) }))).toThrow(
      StreamError,
    );
  });
  it('refuses bad fields, duplicate ids and too many disks', () => {
    const bad = [
      { ...plan, transport: 'carrier-pigeon' },
      { ...plan, disks: [{ ...plan.disks[0], virtualSize: -1 }] },
      { ...plan, disks: [{ ...plan.disks[0], format: 'vmdk' }] },
      { ...plan, disks: [plan.disks[0], plan.disks[0]] },
      { ...plan, disks: Array.from({ length: 27 }, (_, i) => ({ ...plan.disks[0], id: `d${i}` })) },
      { ...plan, hostId: '' },
    ];
    for (const v of bad) expect(() => decodeJson(DISK_PLAN, JSON.stringify(v))).toThrow(StreamError);
    expect(() => decodeJson(DISK_PLAN, '[1]')).toThrow(/not a JSON object/);
  });
});

describe('DISK_EXPORTS', () => {
  it('round-trips tunnel and direct; direct needs a port', () => {
    const t = {
      transport: 'tunnel' as const,
      disks: [{ id: 'xvda', exportName: 'xvda', target: '/t/disk.raw' }],
    };
    expect(roundTrip(DISK_EXPORTS, t)).toEqual(t);
    const d = { ...t, transport: 'direct' as const, host: '10.0.0.2', port: 40123 };
    expect(roundTrip(DISK_EXPORTS, d)).toEqual(d);
    expect(() => decodeJson(DISK_EXPORTS, JSON.stringify({ ...d, port: 0 }))).toThrow(StreamError);
  });
  it('direct to a same-host sender carries a unix socket instead of host and port', () => {
    const u = {
      transport: 'direct' as const,
      socket: '/var/lib/xl/domains/4/nbd.sock',
      disks: [{ id: 'xvda', exportName: 'xvda', target: '/t/disk.raw' }],
    };
    expect(roundTrip(DISK_EXPORTS, u)).toEqual(u);
    expect(DISK_EXPORTS.summary(u)).toContain('direct unix:/var/lib/xl/domains/4/nbd.sock');
    expect(() => decodeJson(DISK_EXPORTS, JSON.stringify({ ...u, socket: 3 }))).toThrow(StreamError);
    expect(() => decodeJson(DISK_EXPORTS, JSON.stringify({ ...u, socket: 'relative/nbd.sock' }))).toThrow(
      /absolute path/,
    );
    expect(() => decodeJson(DISK_EXPORTS, JSON.stringify({ ...u, socket: `/${'d'.repeat(107)}` }))).toThrow(
      StreamError,
    );
    const { socket: _socket, ...noWhere } = u;
    expect(() => decodeJson(DISK_EXPORTS, JSON.stringify(noWhere))).toThrow(StreamError);
  });
});

describe('MIRROR_READY', () => {
  it('round-trips and bounds the disk count', () => {
    expect(roundTrip(MIRROR_READY, { disks: 2 })).toEqual({ disks: 2 });
    expect(() => MIRROR_READY.decode([Buffer.alloc(8)], 8, 0, {})).toThrow(/disk count/);
  });
});

describe('tunnel records', () => {
  it('round-trip', () => {
    expect(roundTrip(TUNNEL_OPEN, { channel: 1, service: 1 })).toEqual({ channel: 1, service: 1 });
    expect(roundTrip(TUNNEL_CREDIT, { channel: 9, bytes: 4096 })).toEqual({ channel: 9, bytes: 4096 });
    expect(roundTrip(TUNNEL_CLOSE, { channel: 2, reset: true })).toEqual({ channel: 2, reset: true });
    const data = roundTrip(TUNNEL_DATA, {
      channel: 3,
      chunks: [Buffer.from('hel'), Buffer.from('lo')],
      length: 5,
    });
    expect(data.channel).toBe(3);
    expect(data.length).toBe(5);
    expect(Buffer.concat(data.chunks).toString()).toBe('hello');
  });
  it('decode payloads split across input slices as slices of them, not copies', () => {
    const [h, p] = TUNNEL_DATA.encode({ channel: 5, chunks: [Buffer.from('abcdef')], length: 6 }) as [
      Buffer,
      Buffer,
    ];
    const all = Buffer.concat([h, p]);
    const v = TUNNEL_DATA.decode(
      [all.subarray(0, 3), all.subarray(3, 10), all.subarray(10)],
      all.length,
      0,
      {},
    );
    expect(v.length).toBe(6);
    expect(Buffer.concat(v.chunks).toString()).toBe('abcdef');
    expect(v.chunks).toHaveLength(2);
    expect(v.chunks.every((c) => c.buffer === all.buffer)).toBe(true);
  });
  it('refuses channel 0, unknown services, zero credit and oversize data', () => {
    const raw = (a: number, b: number) => {
      const x = Buffer.alloc(8);
      x.writeUInt32LE(a, 0);
      x.writeUInt32LE(b, 4);
      return [x];
    };
    expect(() => TUNNEL_OPEN.decode(raw(0, 1), 8, 0, {})).toThrow(/channel/);
    expect(() => TUNNEL_OPEN.decode(raw(1, 7), 8, 0, {})).toThrow(/service/);
    expect(() => TUNNEL_CREDIT.decode(raw(1, 0), 8, 0, {})).toThrow(/bytes/);
    expect(() => TUNNEL_CLOSE.decode(raw(1, 2), 8, 0, {})).toThrow(/kind/);
    expect(() => TUNNEL_DATA.decode([Buffer.from([1, 0, 0, 0, 1, 0, 0, 0, 9])], 9, 0, {})).toThrow(
      /crc32 mismatch/,
    );
    expect(() =>
      TUNNEL_DATA.encode({
        channel: 1,
        chunks: [Buffer.alloc(TUNNEL_DATA_MAX + 1)],
        length: TUNNEL_DATA_MAX + 1,
      }),
    ).toThrow(StreamError);
    expect(() => TUNNEL_DATA.encode({ channel: 1, chunks: [Buffer.alloc(4)], length: 5 })).toThrow(
      StreamError,
    );
  });
});
