/**
 * The wire format of a migration's control socket (the line protocol is described in
 * control-server.ts): requests, replies, their bounds, and the checks both ends apply to what
 * they read. Whatever arrives on the socket is untrusted: every field is checked before use.
 */
import { JSON_MAX_DEPTH, jsonDepthViolation } from '@xlkit/stream';
import { XlError } from '../errors.js';
import type { MigrationStatus } from './status-board.js';

/** The longest request line, without its newline. */
export const MAX_REQUEST_BYTES = 4096;
/** The longest reply line, without its newline (a status names the host: it may be a command line). */
export const MAX_REPLY_BYTES = 16 * 1024;
/** Strings in a status (domain, host) are cut to this many characters by the server. */
export const MAX_STATUS_STRING = 1024;
/** A refusal's reason is at most this long. */
const MAX_REASON = 512;

export const CONTROL_COMMANDS = ['status', 'abort', 'postcopy'] as const;
export type ControlCommand = (typeof CONTROL_COMMANDS)[number];

export interface ControlRequest {
  command: ControlCommand;
}

export type ControlReply = { ok: true; status?: MigrationStatus } | { ok: false; reason: string };

/** A request or reply that is not what the protocol allows. */
export class ControlProtocolError extends XlError {
  override name = 'ControlProtocolError';
  constructor(message: string) {
    super('XL_MIGRATION', message);
  }
}

const kindOf = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : typeof v;

function parseObject(line: string, what: string): Record<string, unknown> {
  const deep = jsonDepthViolation(line);
  if (deep !== undefined)
    throw new ControlProtocolError(
      `expected ${what} as a line of JSON nesting at most ${JSON_MAX_DEPTH} deep, got deeper at byte ${deep.offset}`,
    );
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new ControlProtocolError(
      `expected ${what} as a line of JSON, got ${JSON.stringify(line.slice(0, 40))}`,
    );
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ControlProtocolError(`expected ${what} as a JSON object, got ${kindOf(v)}`);
  return v as Record<string, unknown>;
}

export function parseRequest(line: string): ControlRequest {
  const r = parseObject(line, 'a request');
  const command = r.command;
  if (typeof command !== 'string' || !(CONTROL_COMMANDS as readonly string[]).includes(command))
    throw new ControlProtocolError(
      `expected a command (${CONTROL_COMMANDS.join(', ')}), got ${JSON.stringify(command)?.slice(0, 40) ?? 'none'}`,
    );
  return { command: command as ControlCommand };
}

/** A reply as read by a client: a refusal, or ok with (for `status`) a well-formed status. */
export function parseReply(line: string, command: ControlCommand): ControlReply {
  const r = parseObject(line, 'a reply');
  if (r.ok === false) {
    if (typeof r.reason !== 'string' || r.reason === '' || r.reason.length > MAX_REASON)
      throw new ControlProtocolError(
        `expected a refusal's reason (1-${MAX_REASON} characters), got ${kindOf(r.reason)}`,
      );
    return { ok: false, reason: r.reason };
  }
  if (r.ok !== true)
    throw new ControlProtocolError(`expected a reply's ok to be true or false, got ${kindOf(r.ok)}`);
  return command === 'status' ? { ok: true, status: checkStatus(r.status) } : { ok: true };
}

/** Checks every field of a status read from the socket; returns only the known ones. */
export function checkStatus(v: unknown): MigrationStatus {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new ControlProtocolError(`expected a status object, got ${kindOf(v)}`);
  const s = v as Record<string, unknown>;
  const text = (k: string): string => {
    const x = s[k];
    if (typeof x !== 'string' || x.length > MAX_STATUS_STRING)
      throw new ControlProtocolError(
        `status.${k}: expected a string of at most ${MAX_STATUS_STRING} characters, got ${kindOf(x)}`,
      );
    return x;
  };
  const figure = (k: string): number => {
    const x = s[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x < 0)
      throw new ControlProtocolError(
        `status.${k}: expected a number >= 0, got ${kindOf(x)} ${String(x).slice(0, 20)}`,
      );
    return x;
  };
  const optional = (k: string): Record<string, number> => (s[k] === undefined ? {} : { [k]: figure(k) });
  const flag = (k: string): boolean => {
    if (typeof s[k] !== 'boolean')
      throw new ControlProtocolError(`status.${k}: expected a boolean, got ${kindOf(s[k])}`);
    return s[k];
  };
  const phase = text('phase');
  if (!/^[a-z][a-z-]{0,31}$/.test(phase))
    throw new ControlProtocolError(
      `status.phase: expected a phase name, got ${JSON.stringify(phase.slice(0, 40))}`,
    );
  return {
    domain: text('domain'),
    host: text('host'),
    phase,
    bytes: figure('bytes'),
    ...optional('total'),
    ...optional('remaining'),
    rate: figure('rate'),
    ...optional('pass'),
    ...optional('dirtyPagesRate'),
    ...optional('expectedDowntimeMs'),
    elapsed: figure('elapsed'),
    abortable: flag('abortable'),
    aborted: flag('aborted'),
  };
}
