/** A tunnel failure: the peer broke the channel protocol, or a channel's endpoint failed. */
import { XlError } from '../errors.js';

export type TunnelErrorKind = 'protocol' | 'closed' | 'endpoint';

export class TunnelError extends XlError {
  override name = 'TunnelError';
  constructor(
    readonly kind: TunnelErrorKind,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('XL_MIGRATION', `tunnel: ${message}`, options);
  }
}
