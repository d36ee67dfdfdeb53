import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync, lstatSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { XlError } from '../errors.js';
import { ProgressReporter } from '../progress/reporter.js';
import { askControl } from './control-client.js';
import { MAX_REQUEST_BYTES } from './control-protocol.js';
import { ABORT_REASON, listenControl, type ControlServer } from './control-server.js';
import { StatusBoard } from './status-board.js';

let dir: string;
let sock: string;
let server: ControlServer | undefined;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-ctl-'));
  sock = path.join(dir, 'migrate-control.sock');
});

afterEach(async () => {
  await server?.close();
  server = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** A migration as the server sees it: a session and its board, fed by a quiet reporter. */
async function serve() {
  let now = 0;
  const session = { goSent: false, postcopyActive: false, failure: new AbortController() };
  const board = new StatusBoard({ domain: 'web', host: 'host2' }, () => now);
  board.follow(session);
  const progress = new ProgressReporter(
    { stdout: new PassThrough(), stderr: new PassThrough() },
    { mode: 'quiet', operation: 'migrate', now: () => now },
  );
  progress.observe(board);
  server = await listenControl(sock, board, session);
  return { session, progress, tick: (ms: number) => (now += ms) };
}

/** Writes `bytes` as they are, then reads everything until the server closes (or 2 s pass). */
function exchange(bytes: string | Buffer, keepOpen = false): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect({ path: sock });
    let got = '';
    const timer = setTimeout(() => (c.destroy(), resolve(got)), 2_000);
    c.on('connect', () => (keepOpen ? c.write(bytes) : c.end(bytes)));
    c.on('data', (d: Buffer) => (got += d.toString()));
    c.on('error', (e) => (clearTimeout(timer), reject(e)));
    c.on('close', () => (clearTimeout(timer), resolve(got)));
  });
}

const replies = (text: string) =>
  text
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('control server', () => {
  it('answers status with the live progress, in mode 0600, and removes its socket on close', async () => {
    const { progress, tick } = await serve();
    expect((await stat(sock)).mode & 0o777).toBe(0o600);
    progress.phase('ram');
    tick(1000);
    progress.update({ bytes: 100, total: 1000, remaining: 900, fields: { pass: 1, dirtyPagesRate: 7 } });
    expect(await askControl(sock, 'status')).toEqual({
      ok: true,
      status: expect.objectContaining({ phase: 'ram', bytes: 100, total: 1000, pass: 1, abortable: true }),
    });
    tick(1000);
    progress.update({ bytes: 300, total: 1000, remaining: 700 });
    const again = await askControl(sock, 'status');
    expect(again.ok && again.status).toMatchObject({ bytes: 300, remaining: 700, rate: 150, elapsed: 2 });
    await server!.close();
    server = undefined;
    expect(existsSync(sock)).toBe(false);
  });

  it('abort before GO aborts the session with its reason; a second abort is harmless', async () => {
    const { session } = await serve();
    expect(await askControl(sock, 'abort')).toEqual({ ok: true });
    const reason: unknown = session.failure.signal.reason;
    expect(reason).toBeInstanceOf(XlError);
    expect(reason).toMatchObject({ code: 'XL_INTERRUPTED', message: ABORT_REASON });
    expect(await askControl(sock, 'abort')).toEqual({ ok: true });
    expect(session.failure.signal.reason).toBe(reason);
    const s = await askControl(sock, 'status');
    expect(s.ok && s.status).toMatchObject({ abortable: true, aborted: true });
  });

  it('refuses abort after GO or once post-copy began, and post-copy for now', async () => {
    const { session } = await serve();
    session.postcopyActive = true;
    expect(await askControl(sock, 'abort')).toEqual({ ok: false, reason: 'past the point of no return' });
    session.postcopyActive = false;
    session.goSent = true;
    expect(await askControl(sock, 'abort')).toEqual({ ok: false, reason: 'past the point of no return' });
    expect(session.failure.signal.aborted).toBe(false);
    const s = await askControl(sock, 'status');
    expect(s.ok && s.status).toMatchObject({ abortable: false });
    expect(await askControl(sock, 'postcopy')).toEqual({ ok: false, reason: 'past the point of no return' });
  });

  it('xl migrate-postcopy: asks the ram phase to switch, only when --postcopy allowed it', async () => {
    const { session } = await serve();
    expect(await askControl(sock, 'postcopy')).toEqual({
      ok: false,
      reason: 'this migration was not started with --postcopy',
    });
    Object.assign(session, { settings: { postcopy: {} } });
    expect(await askControl(sock, 'postcopy')).toEqual({ ok: true });
    expect((session as { postcopyRequested?: boolean }).postcopyRequested).toBe(true);
    session.postcopyActive = true;
    expect(await askControl(sock, 'postcopy')).toEqual({ ok: false, reason: 'already in post-copy' });
  });

  it('answers several requests on one connection, split anywhere', async () => {
    await serve();
    const got = await new Promise<string>((resolve) => {
      const c = net.connect({ path: sock });
      let text = '';
      c.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.split('\n').length < 3) return;
        c.end();
        resolve(text);
      });
      c.write('{"comm');
      setTimeout(() => c.write('and":"status"}\n{"command":"postcopy"}\n'), 20);
    });
    expect(replies(got).map((r) => r.ok)).toEqual([true, false]);
  });

  it('refuses an oversize line (before reading it all) and garbage, closes, and serves on', async () => {
    await serve();
    const long = await exchange(Buffer.alloc(MAX_REQUEST_BYTES + 1, 0x41), true);
    expect(replies(long)).toEqual([
      { ok: false, reason: expect.stringMatching(/^request too long: expected at most 4096 bytes per line/) },
    ]);
    const longWithNewline = await exchange(`${' '.repeat(MAX_REQUEST_BYTES + 10)}{"command":"status"}\n`);
    expect(replies(longWithNewline)[0]).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/too long/),
    });
    for (const [bad, why] of [
      ['hello\n', /expected a request as a line of JSON, got "hello"/],
      ['[1]\n', /expected a request as a JSON object, got an array/],
      ['{"command":"rm -rf /"}\n', /expected a command \(status, abort, postcopy\), got "rm -rf \/"/],
      ['{}\n', /got none/],
      ['\n', /line of JSON/],
      [Buffer.from([0xff, 0xfe, 0x0a]), /line of JSON/],
    ] as const) {
      const got = replies(await exchange(bad));
      expect(got, String(bad)).toEqual([{ ok: false, reason: expect.stringMatching(why) }]);
    }
    expect((await askControl(sock, 'status')).ok).toBe(true);
  });

  it('replaces a stale socket; refuses a live one and anything that is not a socket', async () => {
    // A socket left by a killed process (closing a server would have removed it).
    const killed = spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect(killed.signal).toBe('SIGKILL');
    expect(lstatSync(sock).isSocket()).toBe(true);
    await serve();
    expect((await askControl(sock, 'status')).ok).toBe(true);
    const board = new StatusBoard({ domain: 'web', host: 'h' });
    const session = { goSent: false, failure: new AbortController() };
    await expect(listenControl(sock, board, session)).rejects.toThrow(
      /another xl migrate of this domain is running: its control socket .* answers/,
    );
    expect((await askControl(sock, 'status')).ok).toBe(true);
    const file = path.join(dir, 'file.sock');
    await writeFile(file, 'mine');
    await expect(listenControl(file, board, session)).rejects.toThrow(
      /expected a stale socket or nothing there, got another kind of file/,
    );
    expect(lstatSync(file).isFile()).toBe(true);
    await expect(listenControl(path.join(dir, 'nodir', 'x.sock'), board, session)).rejects.toThrow(
      /expected a directory of this user .* got nothing/,
    );
  });
});
