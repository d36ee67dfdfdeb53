#!/usr/bin/env node
// The fault suite's stand-in for ssh: `xl migrate -s 'node pipe-fault.mjs OPTIONS' DOMAIN STATEDIR`
// runs `node XL --state-dir STATEDIR migrate-receive FLAGS` as its child and relays both byte
// streams, parsing the forward one (S→R: xl header, stream header, records, then the raw go
// string after END) so a test can act at an exact point of the protocol from outside xl:
//
//   --ctl DIR          writes DIR/pids.json ({ wrapper, receiver }) at start
//   --at SPEC          NAME[:N]: the N-th (from 1) record of type NAME (MIGRATION_HELLO,
//                      DOMAIN_INFO, PHASE, RAM_CHUNK, TUNNEL_DATA, POSTCOPY_GO, END), or GO:
//                      the go string after END
//   --after NAME       count --at only after the first record of type NAME went through
//   --do ACTION        hold-before | hold: stop (SIGSTOP itself) before / after relaying it,
//                      DIR/held written first (the test injects its fault, then SIGCONTs);
//                      corrupt:K: flip the low bit of body byte K (of the go string: byte K)
//   --xl PATH          xl's bin (required)
//   --debug 1          adds -d to migrate-receive (its steps on stderr, which the sender relays)
//
// The wrapper dies with a SIGKILL like ssh would ("the pipe cut"); the receiver then sees EOF.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';

const TYPES = {
  END: 0x00000000,
  DOMAIN_INFO: 0x584c0001,
  PHASE: 0x584c0002,
  RAM_CHUNK: 0x584c0003,
  MIGRATION_HELLO: 0x584c0005,
  POSTCOPY_GO: 0x584c000a,
  TUNNEL_DATA: 0x584c0111,
};

const argv = process.argv.slice(2);
const opts = {};
while (argv[0]?.startsWith('--')) {
  const key = argv.shift().slice(2);
  opts[key] = argv.shift();
}
const [host, , , ...flags] = argv; // STATEDIR xl migrate-receive FLAGS
if (!opts.xl || !host) {
  process.stderr.write(
    'pipe-fault: usage: --xl XL [--ctl DIR --at SPEC --do ACTION] STATEDIR xl migrate-receive ...\n',
  );
  process.exit(2);
}

const [atName, atCount] = (opts.at ?? '').split(':');
const wantCount = Number(atCount ?? 1);
const action = opts.do ?? '';
const corruptAt = action.startsWith('corrupt:') ? Number(action.slice('corrupt:'.length)) : undefined;

const debug = opts.debug !== undefined ? ['-d'] : [];
const child = spawn('node', [opts.xl, '--state-dir', host, 'migrate-receive', ...debug, ...flags], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: process.env,
});
if (opts.ctl)
  writeFileSync(
    path.join(opts.ctl, 'pids.json'),
    JSON.stringify({ wrapper: process.pid, receiver: child.pid }),
  );

function hold(where) {
  if (opts.ctl) writeFileSync(path.join(opts.ctl, 'held'), where);
  process.kill(process.pid, 'SIGSTOP');
}

// Forward-stream parser: the element being read, bytes of it still to come.
let stage = 'xlhdr';
let headerBuf = Buffer.alloc(0);
let left = 52; // xl header fixed part + config_len; then the config itself
let record; // { type, bodyLeft, padLeft, bodyOffset, target }
let counting = opts.after === undefined;
let seen = 0;
let fired = false;
let tailOffset = 0;

function isTarget(type, length) {
  if (fired || atName === undefined || atName === 'GO') return false;
  if (type !== TYPES[atName] || !counting) return false;
  // A body too short for the byte to flip: the next one of the type counts instead.
  if (corruptAt !== undefined && length <= corruptAt) return false;
  seen += 1;
  return seen === wantCount;
}

/** Splits `chunk` into [bytes to write, action] pieces in stream order. */
function* pieces(chunk) {
  let i = 0;
  while (i < chunk.length) {
    if (stage === 'xlhdr' || stage === 'config' || stage === 'stream') {
      const n = Math.min(left, chunk.length - i);
      const part = chunk.subarray(i, i + n);
      if (stage === 'xlhdr') headerBuf = Buffer.concat([headerBuf, part]);
      i += n;
      left -= n;
      yield [part];
      if (left > 0) continue;
      if (stage === 'xlhdr') [stage, left] = ['config', headerBuf.readUInt32LE(48)];
      else if (stage === 'config') [stage, left] = ['stream', 16];
      else [stage, left, headerBuf] = ['rechdr', 8, Buffer.alloc(0)];
    } else if (stage === 'rechdr') {
      const n = Math.min(left, chunk.length - i);
      headerBuf = Buffer.concat([headerBuf, chunk.subarray(i, i + n)]);
      left -= n;
      const part = chunk.subarray(i, i + n);
      i += n;
      if (left > 0) {
        yield [part];
        continue;
      }
      const type = headerBuf.readUInt32LE(0);
      const length = headerBuf.readUInt32LE(4);
      const target = isTarget(type, length);
      if (target && action === 'hold-before') {
        fired = true;
        // The 8 header bytes are not sent yet: hold before the record starts.
        yield [Buffer.alloc(0), 'hold'];
      }
      yield [part];
      record = { type, bodyLeft: length, padLeft: (8 - (length % 8)) % 8, bodyOffset: 0, target };
      stage = 'body';
      if (opts.after !== undefined && type === TYPES[opts.after]) counting = true;
      if (length === 0) yield* endOfRecord();
    } else if (stage === 'body') {
      const n = Math.min(record.bodyLeft + record.padLeft, chunk.length - i);
      let part = chunk.subarray(i, i + n);
      if (record.target && corruptAt !== undefined && !fired) {
        const k = corruptAt - record.bodyOffset;
        if (k >= 0 && k < part.length) {
          part = Buffer.from(part);
          part[k] ^= 1;
          fired = true;
        }
      }
      const bodyPart = Math.min(n, record.bodyLeft);
      record.bodyLeft -= bodyPart;
      record.padLeft -= n - bodyPart;
      record.bodyOffset += n;
      i += n;
      yield [part];
      if (record.bodyLeft === 0 && record.padLeft === 0) yield* endOfRecord();
    } else {
      // After END: the go string (and nothing else is expected).
      let part = chunk.subarray(i);
      if (
        atName === 'GO' &&
        !fired &&
        corruptAt !== undefined &&
        corruptAt >= tailOffset &&
        corruptAt < tailOffset + part.length
      ) {
        part = Buffer.from(part);
        part[corruptAt - tailOffset] ^= 1;
        fired = true;
      }
      tailOffset += part.length;
      i = chunk.length;
      yield [part];
      if (atName === 'GO' && !fired && action === 'hold' && tailOffset >= 44) {
        fired = true;
        yield [Buffer.alloc(0), 'hold'];
      }
    }
  }
}

function* endOfRecord() {
  const r = record;
  stage = r.type === TYPES.END ? 'tail' : 'rechdr';
  left = 8;
  headerBuf = Buffer.alloc(0);
  if (r.target && action === 'hold') {
    fired = true;
    yield [Buffer.alloc(0), 'hold'];
  }
}

process.stdin.on('data', (chunk) => {
  let ok = true;
  for (const [bytes, act] of pieces(chunk)) {
    if (bytes.length > 0) ok = child.stdin.write(bytes) && ok;
    if (act === 'hold') hold(opts.at);
  }
  if (!ok) {
    process.stdin.pause();
    child.stdin.once('drain', () => process.stdin.resume());
  }
});
process.stdin.on('end', () => child.stdin.end());
child.stdin.on('error', () => undefined);
process.stdout.on('error', () => undefined);
child.stdout.pipe(process.stdout);
child.on('exit', (code, signal) => {
  process.exitCode = code ?? (signal ? 128 : 1);
  process.stdin.destroy();
});
