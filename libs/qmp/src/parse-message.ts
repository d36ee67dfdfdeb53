import { QmpProtocolError } from './errors.js';
import { isJsonObject, type JsonObject, type QmpEvent, type QmpGreeting } from './types.js';

/** One server line, classified. */
export type QmpMessage =
  | { kind: 'greeting'; greeting: QmpGreeting }
  | { kind: 'event'; event: QmpEvent }
  | { kind: 'return'; id: unknown; value: unknown }
  | { kind: 'error'; id: unknown; errorClass: string; desc: string };

const preview = (line: string): string => (line.length > 80 ? `${line.slice(0, 80)}...` : line);

/** Parses and classifies one QMP line; anything off-spec is a `QmpProtocolError`. */
export function parseMessage(line: string): QmpMessage {
  let msg: unknown;
  try {
    msg = JSON.parse(line);
  } catch (cause) {
    throw new QmpProtocolError(`bad line: expected JSON, got ${JSON.stringify(preview(line))}`, { cause });
  }
  if (!isJsonObject(msg)) {
    throw new QmpProtocolError(`bad line: expected a JSON object, got ${JSON.stringify(preview(line))}`);
  }
  if ('event' in msg) return { kind: 'event', event: parseEvent(msg) };
  if ('return' in msg) return { kind: 'return', id: msg['id'], value: msg['return'] };
  if ('error' in msg) {
    const err = msg['error'];
    if (!isJsonObject(err) || typeof err['class'] !== 'string') {
      throw new QmpProtocolError(`bad error reply: expected {class, desc}, got ${preview(line)}`);
    }
    const desc = typeof err['desc'] === 'string' ? err['desc'] : '';
    return { kind: 'error', id: msg['id'], errorClass: err['class'], desc };
  }
  if ('QMP' in msg) return { kind: 'greeting', greeting: parseGreeting(msg['QMP']) };
  throw new QmpProtocolError(`bad message: expected event, return, error or QMP key, got ${preview(line)}`);
}

function parseEvent(msg: JsonObject): QmpEvent {
  const name = msg['event'];
  if (typeof name !== 'string') {
    throw new QmpProtocolError(`bad event: expected a string name, got ${typeof name}`);
  }
  const data = msg['data'] ?? {};
  if (!isJsonObject(data)) throw new QmpProtocolError(`bad event ${name}: expected object data`);
  const ts = msg['timestamp'];
  const seconds = isJsonObject(ts) && typeof ts['seconds'] === 'number' ? ts['seconds'] : 0;
  const microseconds = isJsonObject(ts) && typeof ts['microseconds'] === 'number' ? ts['microseconds'] : 0;
  return { event: name, data, timestamp: { seconds, microseconds } };
}

function parseGreeting(qmp: unknown): QmpGreeting {
  const bad = (what: string): QmpProtocolError =>
    new QmpProtocolError(`bad greeting: expected ${what}, got ${JSON.stringify(qmp)?.slice(0, 120)}`);
  if (!isJsonObject(qmp)) throw bad('an object under "QMP"');
  const version = qmp['version'];
  if (!isJsonObject(version) || !isJsonObject(version['qemu'])) throw bad('version.qemu');
  const q = version['qemu'];
  const nums = ['major', 'minor', 'micro'].map((k) => q[k]);
  if (!nums.every((n) => typeof n === 'number')) throw bad('numeric version.qemu.{major,minor,micro}');
  const caps = qmp['capabilities'];
  if (!Array.isArray(caps) || !caps.every((c) => typeof c === 'string')) throw bad('a capabilities array');
  const [major, minor, micro] = nums as number[];
  return {
    version: {
      qemu: { major: major ?? 0, minor: minor ?? 0, micro: micro ?? 0 },
      package: typeof version['package'] === 'string' ? version['package'] : '',
    },
    capabilities: caps as string[],
  };
}
