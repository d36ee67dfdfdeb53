import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BULK_SEND_BUFFER } from '../host/send-buffer.js';
import { spawnReceiver } from './receiver-process.js';

describe('spawnReceiver', () => {
  it('gives the forward stream the bulk send buffer, and the bytes still cross both ways', async () => {
    const receiver = spawnReceiver({ file: 'cat', args: [] }, new PassThrough(), {
      PATH: process.env.PATH ?? '',
    });
    try {
      expect(receiver.forwardBuffer?.bytes).toBeGreaterThanOrEqual(BULK_SEND_BUFFER);
      const payload = Buffer.alloc(3 * 1024 * 1024, 0xa5);
      const echoed: Buffer[] = [];
      receiver.stdout.on('data', (b: Buffer) => echoed.push(b));
      const ended = new Promise((resolve) => receiver.stdout.once('end', resolve));
      receiver.stdin.end(payload);
      await ended;
      expect(Buffer.concat(echoed).equals(payload)).toBe(true);
      expect(await receiver.exited).toEqual({ exitCode: 0 });
    } finally {
      await receiver.stop(1_000);
    }
  });
});
