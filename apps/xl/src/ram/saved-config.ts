/**
 * The domain config carried by a save file's xl header or a migration sender: untrusted JSON,
 * checked by the one config schema (config/config-schema.ts) with a peer's policy: host paths
 * absolute and plain, and nothing named by the stream runs unless the system provides it.
 */
import { ConfigSchemaError, parseDomainConfig } from '../config/config-schema.js';
import type { DomainConfig } from '../config/domain-config.js';
import { XlError } from '../errors.js';

/** How every refusal of checkSavedConfig begins (callers that reword it strip this). */
export const SAVED_CONFIG_UNUSABLE = 'the config stored in the stream is not usable: ';

export function checkSavedConfig(value: unknown): DomainConfig {
  try {
    return parseDomainConfig(value, { origin: 'peer' });
  } catch (err) {
    if (!(err instanceof ConfigSchemaError)) throw err;
    const hint = err.notAnObject ? ' (give a config file)' : '';
    throw new XlError('XL_RESTORE', `${SAVED_CONFIG_UNUSABLE}${err.message}${hint}`, { cause: err });
  }
}
