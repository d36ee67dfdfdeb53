import { getSystemErrorMap } from 'node:util';

/** Errors the xl app raises itself; main.ts maps them to exit codes. */
export type XlErrorCode =
  | 'XL_USAGE'
  | 'XL_CONFIG'
  | 'XL_DOMAIN_NOT_FOUND'
  | 'XL_DOMAIN_EXISTS'
  | 'XL_DOMAIN_DEAD'
  | 'XL_QEMU_FAILED'
  | 'XL_STATE'
  | 'XL_LOCK_TIMEOUT'
  | 'XL_SAVE'
  | 'XL_RESTORE'
  | 'XL_MIGRATION'
  | 'XL_MIGRATION_HANDSHAKE'
  | 'XL_NETWORK'
  /** `xl upgrade` refused before touching anything (the new binary cannot run the domain, say). */
  | 'XL_UPGRADE_REFUSED'
  /** `xl upgrade` failed after the new QEMU ran on the shared RAM: the domain crashed. */
  | 'XL_UPGRADE_CRASHED'
  | 'XL_INTERRUPTED';

export interface XlErrorOptions {
  cause?: unknown;
  /** Domain name or id the failure concerns, when there is one. */
  domain?: string;
}

export class XlError extends Error {
  override name = 'XlError';
  readonly code: XlErrorCode;
  readonly domain: string | undefined;

  constructor(code: XlErrorCode, message: string, options: XlErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.domain = options.domain;
  }
}

/** A mistake in how xl was called: exit status 2, message only. */
export class UsageError extends XlError {
  override name = 'UsageError';
  constructor(message: string) {
    super('XL_USAGE', message);
  }
}

/** Where in a configuration source a problem was found (1-based line and column). */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

/** A bad configuration file or KEY=VALUE override: names file, line and column. */
export class ConfigError extends XlError {
  override name = 'ConfigError';
  readonly file: string;
  readonly line: number;
  readonly column: number;

  constructor(position: SourcePosition, message: string, options: XlErrorOptions = {}) {
    super('XL_CONFIG', `${position.file}:${position.line}:${position.column}: ${message}`, options);
    this.file = position.file;
    this.line = position.line;
    this.column = position.column;
  }
}

/** The message of anything thrown (an Error's message, else its string form). */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A system error in words ("no such file or directory"), never its errno code alone: the
 * description libuv gives the code, else the error's message. For messages that already name
 * the path ("cannot read config file web.cfg: no such file or directory").
 */
export function systemErrorWords(err: unknown): string {
  const e = err as Partial<NodeJS.ErrnoException> | undefined;
  if (e !== null && typeof e === 'object') {
    const map = getSystemErrorMap();
    const byNumber = typeof e.errno === 'number' ? map.get(e.errno) : undefined;
    if (byNumber !== undefined && (e.code === undefined || byNumber[0] === e.code)) return byNumber[1];
    if (typeof e.code === 'string')
      for (const [name, words] of map.values()) if (name === e.code) return words;
  }
  return errorMessage(err);
}
