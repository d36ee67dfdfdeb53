import { PassThrough } from 'node:stream';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { RAM_RETURN_MAX } from '@xlkit/stream';
import { forwardReturnPath, ReturnPathSink } from './return-path.js';

/** A stand-in for QEMU's socket: what is written to it, in order. */
function fakeSocket(): { socket: Socket; written: () => Buffer } {
  const s = new PassThrough();
  const parts: Buffer[] = [];
  s.on('data', (b: Buffer) => parts.push(b));
  return { socket: s as unknown as Socket, written: () => Buffer.concat(parts) };
}

describe('the return path over the relayed transport', () => {
  it('sender: bytes before QEMU connected go first, then the rest in order; after close nothing', async () => {
    const sink = new ReturnPathSink();
    sink.write([Buffer.from('ab'), Buffer.from('c')]);
    const { socket, written } = fakeSocket();
    sink.attach(socket);
    sink.write([Buffer.from('de')]);
    sink.close();
    sink.write([Buffer.from('zz')]);
    await new Promise((r) => setImmediate(r));
    expect(written().toString()).toBe('abcde');
    expect(sink.bytes).toBe(5);
  });

  it('sender: refuses to hold more than 1 MiB for a QEMU that never connected', () => {
    const sink = new ReturnPathSink();
    sink.write([Buffer.alloc(1024 * 1024)]);
    expect(() => sink.write([Buffer.alloc(1)])).toThrow(/more than 1048576 bytes of QEMU's return path/);
  });

  it('receiver: forwards what QEMU writes in pieces of at most RAM_RETURN_MAX, until stopped', () => {
    const s = new PassThrough();
    const pieces: Buffer[] = [];
    const stop = forwardReturnPath(s as unknown as Socket, (p) => pieces.push(Buffer.from(p)));
    s.emit('data', Buffer.alloc(RAM_RETURN_MAX * 2 + 5, 1));
    s.emit('data', Buffer.from('x'));
    stop();
    s.emit('data', Buffer.from('late'));
    expect(pieces.map((p) => p.length)).toEqual([RAM_RETURN_MAX, RAM_RETURN_MAX, 5, 1]);
  });
});
