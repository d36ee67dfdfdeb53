/** Typed access to merged xl.cfg entries: every mismatch is a ConfigError at the value. */
import { ConfigError, type SourcePosition } from '../errors.js';
import type { CfgEntry, CfgValue } from './cfg-syntax.js';

export function fmt(pos: SourcePosition): string {
  return `${pos.file}:${pos.line}:${pos.column}`;
}

export class Reader {
  constructor(private readonly entries: Map<string, CfgEntry>) {}

  get(key: string): CfgValue | undefined {
    return this.entries.get(key)?.value;
  }

  /** Where the key itself was written (for messages about the key). */
  keyPos(key: string): SourcePosition | undefined {
    return this.entries.get(key)?.keyPos;
  }

  /** An xl boolean: 0 or 1 (also "0"/"1"); undefined when absent. */
  flag(key: string): { value: boolean; pos: SourcePosition } | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if ((v.kind === 'number' || v.kind === 'string') && ['0', '1'].includes(String(v.value)))
      return { value: String(v.value) === '1', pos: v.pos };
    throw new ConfigError(
      v.pos,
      `'${key}' must be 0 or 1, got ${v.kind === 'list' ? 'a list' : `'${v.value}'`}`,
    );
  }

  string(key: string): { value: string; pos: SourcePosition } | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    if (v.kind !== 'string') throw new ConfigError(v.pos, `'${key}' must be a string, got a ${v.kind}`);
    return { value: v.value, pos: v.pos };
  }

  number(key: string, min: number, max: number, unit = ''): number | undefined {
    const v = this.get(key);
    if (v === undefined) return undefined;
    let n: number;
    if (v.kind === 'number') n = v.value;
    else if (v.kind === 'string' && /^[0-9]+$/.test(v.value)) n = Number(v.value);
    else
      throw new ConfigError(
        v.pos,
        `'${key}' must be a number${unit}, got ${v.kind === 'string' ? `'${v.value}'` : 'a list'}`,
      );
    if (n < min || n > max)
      throw new ConfigError(v.pos, `'${key}' must be between ${min} and ${max}${unit}, got ${n}`);
    return n;
  }

  choice<T extends string>(key: string, choices: readonly T[]): T | undefined {
    const s = this.string(key);
    if (s === undefined) return undefined;
    if (!(choices as readonly string[]).includes(s.value)) {
      throw new ConfigError(s.pos, `'${key}' must be one of ${choices.join(', ')}, got '${s.value}'`);
    }
    return s.value as T;
  }

  /** A list of strings; a lone string counts as a one-item list. */
  strings(key: string): { value: string; pos: SourcePosition }[] {
    const v = this.get(key);
    if (v === undefined) return [];
    const items = v.kind === 'list' ? v.items : [v];
    return items.map((item) => {
      if (item.kind !== 'string')
        throw new ConfigError(item.pos, `'${key}' items must be strings, got a ${item.kind}`);
      return { value: item.value, pos: item.pos };
    });
  }
}
