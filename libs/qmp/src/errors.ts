/** Errors raised by @xlkit/qmp. Callers switch on `code`, never on message text. */
export type QmpErrorCode =
  | 'QMP_CONNECT'
  | 'QMP_STATE'
  | 'QMP_PROTOCOL'
  | 'QMP_COMMAND'
  | 'QMP_INTERRUPTED'
  | 'QMP_TIMEOUT'
  | 'QMP_JOB'
  | 'QMP_MIGRATION';

export interface QmpErrorOptions {
  cause?: unknown;
  /** The QMP command the failure concerns, when there is one. */
  command?: string;
}

export class QmpError extends Error {
  override name = 'QmpError';
  readonly code: QmpErrorCode;
  readonly command: string | undefined;

  constructor(code: QmpErrorCode, message: string, options: QmpErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.command = options.command;
  }
}

/** The socket could not be reached (wraps the errno error), or the greeting/negotiation failed. */
export class QmpConnectError extends QmpError {
  override name = 'QmpConnectError';
  readonly socketPath: string | undefined;
  constructor(socketPath: string | undefined, message: string, options: QmpErrorOptions = {}) {
    super('QMP_CONNECT', message, options);
    this.socketPath = socketPath;
  }
}

/** A method was called in a state that does not allow it (e.g. execute after close). */
export class QmpStateError extends QmpError {
  override name = 'QmpStateError';
  readonly state: string;
  readonly required: string;
  constructor(state: string, required: string, options: QmpErrorOptions = {}) {
    super('QMP_STATE', `QMP client is ${state}, expected ${required}`, options);
    this.state = state;
    this.required = required;
  }
}

/** The peer broke the wire rules: bad JSON, non-object line, oversize line, id-less error, bad greeting. */
export class QmpProtocolError extends QmpError {
  override name = 'QmpProtocolError';
  constructor(message: string, options: QmpErrorOptions = {}) {
    super('QMP_PROTOCOL', message, options);
  }
}

/** QEMU answered a command with `{"error": {"class", "desc"}}`. */
export class QmpCommandError extends QmpError {
  override name = 'QmpCommandError';
  /** QEMU's error class, e.g. `GenericError`, `CommandNotFound`, `DeviceNotFound`. */
  readonly errorClass: string;
  /** QEMU's human-readable description (do not parse). */
  readonly desc: string;
  constructor(command: string, errorClass: string, desc: string) {
    super('QMP_COMMAND', `${command} failed: ${errorClass}: ${desc}`, { command });
    this.errorClass = errorClass;
    this.desc = desc;
  }
}

/** The connection ended while a command was waiting for its reply. */
export class QmpInterruptedError extends QmpError {
  override name = 'QmpInterruptedError';
  constructor(command: string, options: Omit<QmpErrorOptions, 'command'> = {}) {
    super('QMP_INTERRUPTED', `${command} interrupted: expected a reply, got connection closed`, {
      ...options,
      command,
    });
  }
}

/** No reply or event within the allowed time. */
export class QmpTimeoutError extends QmpError {
  override name = 'QmpTimeoutError';
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number, options: QmpErrorOptions = {}) {
    super('QMP_TIMEOUT', `${what}: expected a reply within ${timeoutMs} ms, got none`, options);
    this.timeoutMs = timeoutMs;
  }
}

/** A block job ended, errored or vanished before reaching the state a helper waited for. */
export class QmpJobError extends QmpError {
  override name = 'QmpJobError';
  readonly jobId: string;
  /** The job's own error text (query-block-jobs `error`, or the event's), when QEMU gave one. */
  readonly jobError: string | undefined;
  constructor(jobId: string, message: string, options: QmpErrorOptions & { jobError?: string } = {}) {
    super('QMP_JOB', message, options);
    this.jobId = jobId;
    this.jobError = options.jobError;
  }
}

/** A migration ended in `failed` or `cancelled` while a helper followed it. */
export class QmpMigrationError extends QmpError {
  override name = 'QmpMigrationError';
  readonly status: string;
  /** QEMU's `error-desc` from query-migrate, when it gave one. */
  readonly errorDesc: string | undefined;
  constructor(status: string, errorDesc: string | undefined, expected: string) {
    super(
      'QMP_MIGRATION',
      `migration: expected ${expected}, got ${status}${errorDesc ? ` (${errorDesc})` : ''}`,
    );
    this.status = status;
    this.errorDesc = errorDesc;
  }
}
