/** Errors the xl app raises itself; main.ts maps them to exit codes. */
export type XlErrorCode =
  | 'XL_USAGE'
  | 'XL_CONFIG'
  | 'XL_DOMAIN_NOT_FOUND'
  | 'XL_DOMAIN_EXISTS'
  | 'XL_QEMU_FAILED'
  | 'XL_STATE'
  | 'XL_SAVE'
  | 'XL_RESTORE'
  | 'XL_MIGRATION'
  | 'XL_MIGRATION_HANDSHAKE'
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
