import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { askControl, ControlUnavailable } from './control-client.js';
import { MAX_REPLY_BYTES } from './control-protocol.js';

let dir: string;
let sock: string;
let server: net.Server | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-ctlc-'));
  sock = path.join(dir, 'c.sock');
});

afterEach(async () => {
  if (server) await new Promise<void>((r) => server!.close(() => r()));
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A control socket that answers every connection with `respond(request)` (written as it is). */
async function fake(respond: (request: string, socket: net.Socket) => void): Promise<string[]> {
  const requests: string[] = [];
  server = net.createServer((s) => {
    let text = '';
    s.on('error', () => undefined);
    s.on('data', (d: Buffer) => {
      text += d.toString();
      if (!text.includes('\n')) return;
      requests.push(text);
      respond(text, s);
    });
  });
  await new Promise<void>((r) => server!.listen(sock, () => r()));
  return requests;
}

const STATUS = {
  domain: 'web',
  host: 'h',
  phase: 'ram',
  bytes: 5,
  total: 10,
  rate: 1,
  elapsed: 0.5,
  abortable: true,
  aborted: false,
};

describe('askControl', () => {
  it('sends one request line and returns the checked reply', async () => {
    const requests = await fake((_, s) =>
      s.end(`${JSON.stringify({ ok: true, status: { ...STATUS, extra: 1 } })}\n`),
    );
    expect(await askControl(sock, 'status')).toEqual({ ok: true, status: STATUS });
    expect(requests).toEqual(['{"command":"status"}\n']);
  });

  it('passes a refusal on', async () => {
    await fake((_, s) => s.end('{"ok":false,"reason":"past the point of no return"}\n'));
    expect(await askControl(sock, 'abort')).toEqual({ ok: false, reason: 'past the point of no return' });
  });

  it('says nobody listens for a missing or a stale socket, or one closed without a word', async () => {
    await expect(askControl(sock, 'status')).rejects.toBeInstanceOf(ControlUnavailable);
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    await expect(askControl(sock, 'status')).rejects.toThrow(/no xl migrate listens on .* \(ECONNREFUSED\)/);
    await rm(sock);
    await fake((_, s) => s.destroy());
    await expect(askControl(sock, 'status')).rejects.toBeInstanceOf(ControlUnavailable);
  });

  it('refuses malformed, mistyped and oversize replies', async () => {
    const cases: [string, RegExp][] = [
      ['nope\n', /expected a reply as a line of JSON/],
      ['"ok"\n', /expected a reply as a JSON object, got string/],
      ['{"ok":"yes"}\n', /expected a reply's ok to be true or false, got string/],
      ['{"ok":false}\n', /expected a refusal's reason/],
      [`{"ok":false,"reason":"${'x'.repeat(600)}"}\n`, /expected a refusal's reason \(1-512 characters\)/],
      ['{"ok":true}\n', /expected a status object, got undefined/],
      [
        `${JSON.stringify({ ok: true, status: { ...STATUS, bytes: -1 } })}\n`,
        /status.bytes: expected a number >= 0/,
      ],
      [
        `${JSON.stringify({ ok: true, status: { ...STATUS, total: '9' } })}\n`,
        /status.total: expected a number/,
      ],
      [
        `${JSON.stringify({ ok: true, status: { ...STATUS, abortable: 1 } })}\n`,
        /status.abortable: expected a boolean/,
      ],
      [
        `${JSON.stringify({ ok: true, status: { ...STATUS, phase: 'RAM\u001b[2J' } })}\n`,
        /status.phase: expected a phase name/,
      ],
      [
        `${JSON.stringify({ ok: true, status: { ...STATUS, host: 'h'.repeat(2000) } })}\n`,
        /status.host: expected a string of at most 1024/,
      ],
      ['{"ok":true,"stat', /closed the connection: expected a reply line, got 16 bytes without a newline/],
    ];
    let reply = '';
    await fake((_, s) => s.end(reply));
    for (const [text, why] of cases) {
      reply = text;
      await expect(askControl(sock, 'status'), text.slice(0, 40)).rejects.toThrow(why);
    }
  });

  it('stops reading a reply longer than its bound, and gives up on a silent server', async () => {
    await fake((_, s) => {
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!s.destroyed && s.write(chunk));
        if (!s.destroyed) s.once('drain', pump);
      };
      pump();
    });
    await expect(askControl(sock, 'status')).rejects.toThrow(
      new RegExp(`reply too long: expected at most ${MAX_REPLY_BYTES} bytes`),
    );
    await new Promise<void>((r) => server!.close(() => r()));
    await fake(() => undefined);
    const t0 = Date.now();
    await expect(askControl(sock, 'status', 200)).rejects.toThrow(
      /did not answer: expected a reply within 200 ms/,
    );
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});
