/** A failure of `xl migrate -q`'s disk work: a refusal, a target problem, a mirror that failed or stalled. */
import { XlError } from '../errors.js';

export type MirrorErrorKind = 'refused' | 'target' | 'export' | 'mirror' | 'not-converging';

export class MirrorError extends XlError {
  override name = 'MirrorError';
  constructor(
    readonly kind: MirrorErrorKind,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('XL_MIGRATION', message, options);
  }
}
