/**
 * Both ends of the handshake up to the agreed protocol: xl's banner, then each side's
 * MIGRATION_HELLO. Nothing is touched on either host before both hellos were checked.
 *
 *   R→S  banner (54 bytes), back-channel stream header, MIGRATION_HELLO
 *   S→R  xl header + config, stream header, MIGRATION_HELLO
 */
import type { Writable } from 'node:stream';
import {
  STREAM_IDENT,
  StreamError,
  StreamReader,
  StreamWriter,
  MigrationKey,
  type ByteInput,
  type MigrationHello,
  type StreamRecord,
} from '@xlkit/stream';
import { XlError } from '../errors.js';
import { ByteChannel, type ByteIterable } from './byte-channel.js';
import { BANNER, Feature, makeHello, negotiate, showBytes, type Agreement } from './protocol.js';

/** Cap on one back-channel record (control records and tunnel data, never RAM). */
export const BACK_RECORD_MAX = 8 * 1024 * 1024;

export interface SenderLink {
  writer: StreamWriter;
  /** Receiver→sender records after its hello (PHASE_READY, MIGRATION_ERROR, ..., END). */
  back: StreamReader;
  agreement: Agreement;
  peer: MigrationHello;
  /** With `direct-tls`: the receiver's key for this migration's TLS-PSK (never printed). */
  key?: MigrationKey;
}

export interface ReceiverLink {
  writer: StreamWriter;
  /** Sender→receiver records after its hello (PHASE, DOMAIN_INFO, RAM..., END). */
  forward: StreamReader;
  /** The config from the xl header (unchecked JSON). */
  config: unknown;
  agreement: Agreement;
  peer: MigrationHello;
  /** The sender required `direct-tls`: the key generated here and sent to it. */
  key?: MigrationKey;
}

function handshakeError(message: string, cause?: unknown): XlError {
  return new XlError('XL_MIGRATION_HANDSHAKE', message, { cause });
}

/** A record from `reader`, with stream errors turned into handshake errors naming `what`. */
async function nextRecord(reader: StreamReader, peer: string, what: string): Promise<StreamRecord | null> {
  try {
    return await reader.next();
  } catch (err) {
    if (err instanceof StreamError) {
      const detail =
        err.code === 'STREAM_TRUNCATED' || err.code === 'STREAM_IO'
          ? `the ${peer} closed the connection before ${what}`
          : `bad ${what} from the ${peer}: ${err.message}`;
      throw handshakeError(detail, err);
    }
    throw err;
  }
}

/** A refusal or a protocol error from a peer's first record. */
function checkHello(rec: StreamRecord | null, peer: string): MigrationHello {
  if (rec?.name === 'MIGRATION_HELLO') return rec.value;
  if (rec?.name === 'MIGRATION_ERROR') throw handshakeError(`the ${peer} refused: ${rec.value.message}`);
  throw handshakeError(
    `the ${peer} did not negotiate (sent ${rec?.name ?? 'no record'} where its MIGRATION_HELLO belongs): it is an older xl without xlkit's migration protocol; upgrade it`,
  );
}

export interface SenderHandshakeOptions {
  /** The receiver's stdout. */
  input: ByteIterable;
  /** The receiver's stdin. */
  output: Writable;
  config: object;
  /** Features this migration needs from the receiver. */
  requires: readonly string[];
  /** Tests: a different hello. */
  hello?: MigrationHello;
}

/**
 * What each end of the migration pipe queues of the forward stream (the sender's writer
 * budget, the receiver's read-ahead). Tunnel records share the pipe with the RAM stream and
 * queue behind whatever RAM is already in it: at the vCPU stop QEMU flushes its disks,
 * which for a -q mirror is an NBD round trip through the tunnel. With 8 MiB on each end that
 * flush took 85-120 ms here; with 1 MiB, 42-60 ms (RAM throughput unchanged: a record is
 * written whole, and the next as soon as the queue is under the budget). RAM credit
 * (ram/ram-credit.ts) now keeps RAM from filling the pipe at all.
 */
export const LINK_BUFFER = 1024 * 1024;

export async function senderHandshake(o: SenderHandshakeOptions): Promise<SenderLink> {
  const own = o.hello ?? makeHello(o.requires);
  const channel = new ByteChannel(o.input, 'receiver');
  await channel.expect(BANNER, "xl's migration banner");
  const writer = new StreamWriter(o.output, { maxBuffered: LINK_BUFFER });
  await writer.writeXlHeader(o.config);
  await writer.writeStreamHeader();
  await writer.writeRecord('MIGRATION_HELLO', own);
  const head = await channel.peek(8);
  const ident = Buffer.alloc(8);
  ident.writeBigUInt64BE(STREAM_IDENT);
  if (head.length === 0) {
    throw handshakeError(
      "the receiver closed the connection right after the banner: it is probably an older xl without xlkit's migration protocol",
    );
  }
  if (!head.equals(ident)) {
    throw handshakeError(
      `the receiver sent ${showBytes(head)} after the banner instead of a stream header: it is an older xl without xlkit's migration protocol`,
    );
  }
  const back = new StreamReader(channel.rest(), {
    xlHeader: 'absent',
    trailing: 'leave',
    maxRecordLength: BACK_RECORD_MAX,
  });
  const peer = checkHello(await nextRecord(back, 'receiver', 'its hello'), 'receiver');
  const verdict = negotiate(own, peer, 'receiver');
  if (!verdict.ok) throw handshakeError(`refusing to migrate: ${verdict.reason}`);
  if (!own.requires.includes(Feature.DIRECT_TLS)) return { writer, back, agreement: verdict.agreement, peer };
  const rec = await nextRecord(back, 'receiver', 'its migration key');
  if (rec?.name === 'MIGRATION_ERROR') throw handshakeError(`the receiver refused: ${rec.value.message}`);
  if (rec?.name !== 'MIGRATION_KEY')
    throw handshakeError(`the receiver sent ${rec?.name ?? 'no record'} where its MIGRATION_KEY belongs`);
  return { writer, back, agreement: verdict.agreement, peer, key: rec.value };
}

export interface ReceiverHandshakeOptions {
  /** Our stdin. */
  input: ByteInput;
  /** Our stdout. */
  output: Writable;
  /** Tests: a different hello. */
  hello?: MigrationHello;
}

/**
 * Banner and hello out, then the sender's headers and hello in. On a refusal a
 * MIGRATION_ERROR is the caller's to send (with everything else that can fail).
 */
export async function receiverHandshake(o: ReceiverHandshakeOptions): Promise<ReceiverLink> {
  const own = o.hello ?? makeHello([]);
  const writer = new StreamWriter(o.output);
  await new Promise<void>((resolve, reject) =>
    o.output.write(BANNER, (err) => (err ? reject(err) : resolve())),
  );
  await writer.writeStreamHeader();
  await writer.writeRecord('MIGRATION_HELLO', own);
  const forward = new StreamReader(o.input, {
    xlHeader: 'required',
    trailing: 'leave',
    readAhead: LINK_BUFFER,
  });
  let config: unknown;
  try {
    config = (await forward.headers()).xlHeader?.config;
  } catch (err) {
    if (!(err instanceof StreamError)) throw err;
    if (err.code === 'STREAM_TRUNCATED' || err.code === 'STREAM_IO')
      throw handshakeError('the sender closed the connection before sending the domain', err);
    throw handshakeError(`bad stream headers from the sender: ${err.message}`, err);
  }
  const peer = checkHello(await nextRecord(forward, 'sender', 'its hello'), 'sender');
  const verdict = negotiate(own, peer, 'sender');
  if (!verdict.ok) throw handshakeError(`refusing the migration: ${verdict.reason}`);
  if (!peer.requires.includes(Feature.DIRECT_TLS))
    return { writer, forward, config, agreement: verdict.agreement, peer };
  // This side opens the TCP ports, so this side makes the key that guards them: its strength
  // and freshness never depend on the peer.
  const key = MigrationKey.generate();
  await writer.writeRecord('MIGRATION_KEY', key);
  return { writer, forward, config, agreement: verdict.agreement, peer, key };
}
