/** Reads an xl.cfg file plus KEY=VALUE overrides into a validated DomainConfig. */
import { readFile, stat } from 'node:fs/promises';
import { systemErrorWords, XlError } from '../errors.js';
import { CFG_LIMITS, parseCfg } from './cfg-syntax.js';
import { mergeEntries, parseOverride } from './overrides.js';
import { buildConfig, type BuildOptions, type BuiltConfig } from './build-config.js';

/** Parses config text (from `file`, used in messages) with overrides applied after it. */
export function parseConfigText(
  text: string,
  file: string,
  overrides: string[] = [],
  options: BuildOptions = {},
): BuiltConfig {
  const entries = [...parseCfg(text, file), ...overrides.map((o, i) => parseOverride(o, i))];
  return buildConfig(mergeEntries(entries), options);
}

export async function loadConfigFile(
  file: string,
  overrides: string[] = [],
  options: BuildOptions = {},
): Promise<BuiltConfig> {
  let text: string;
  try {
    const st = await stat(file);
    if (!st.isFile()) throw new XlError('XL_CONFIG', `${file}: not a regular file`);
    if (st.size > CFG_LIMITS.maxBytes)
      throw new XlError('XL_CONFIG', `${file}: larger than ${CFG_LIMITS.maxBytes} bytes`);
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (err instanceof XlError) throw err;
    throw new XlError('XL_CONFIG', `cannot read config file ${file}: ${systemErrorWords(err)}`, {
      cause: err,
    });
  }
  return parseConfigText(text, file, overrides, options);
}
