import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BULK_SEND_BUFFER, enlargeSendBuffer } from './send-buffer.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xlkit-xl-sndbuf-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function connected(): Promise<{ client: net.Socket; close: () => void }> {
  const sockPath = path.join(dir, `s${Math.random().toString(36).slice(2)}.sock`);
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(sockPath, resolve));
  const client = net.connect(sockPath);
  await new Promise((resolve) => client.once('connect', resolve));
  return { client, close: () => (client.destroy(), server.close()) };
}

describe('enlargeSendBuffer', () => {
  it('gives a connected socket at least the bulk buffer (the project setup builds the addon)', async () => {
    const { client, close } = await connected();
    try {
      expect(enlargeSendBuffer(client)?.bytes).toBeGreaterThanOrEqual(BULK_SEND_BUFFER);
    } finally {
      close();
    }
  });

  it('leaves a socket that is already closed alone instead of failing', async () => {
    const { client, close } = await connected();
    close();
    expect(enlargeSendBuffer(client)).toBeUndefined();
  });
});
