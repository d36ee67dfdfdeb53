/** Errors of @xlkit/os-tune: a setting the OS refused, a native read that failed. */
export type OsTuneErrorCode = 'OS_TUNE_REFUSED' | 'OS_TUNE_READ';

export interface OsTuneErrorDetails {
  /** The system call that failed. */
  call: string;
  /** errno's name (EBADF, ENOTSOCK, ...). */
  errno: string;
  fd?: number;
  /** What was asked. */
  requested?: number;
  cause?: unknown;
}

export class OsTuneError extends Error {
  override readonly name = 'OsTuneError';
  readonly code: OsTuneErrorCode;
  readonly call: string;
  readonly errno: string;
  readonly fd: number | undefined;
  readonly requested: number | undefined;

  constructor(code: OsTuneErrorCode, message: string, details: OsTuneErrorDetails) {
    super(message, { cause: details.cause });
    this.code = code;
    this.call = details.call;
    this.errno = details.errno;
    this.fd = details.fd;
    this.requested = details.requested;
  }
}
