/** `xl create CONFIG KEY=VALUE ...`: later arguments override keys from the file. */
import { ConfigError } from '../errors.js';
import { parseCfgValue, type CfgEntry } from './cfg-syntax.js';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses one KEY=VALUE argument. VALUE uses cfg syntax (`name="a"`, `memory=512`,
 * `disk=['...']`); a bare word that is not cfg syntax (`name=web1`) is taken as a string.
 */
export function parseOverride(arg: string, index: number): CfgEntry {
  const file = `argument ${index + 1} (${arg})`;
  const eq = arg.indexOf('=');
  const plus = eq > 0 && arg[eq - 1] === '+';
  const key = eq < 0 ? arg : arg.slice(0, plus ? eq - 1 : eq);
  if (eq < 0 || !KEY.test(key)) {
    throw new ConfigError(
      { file, line: 1, column: 1 },
      `expected KEY=VALUE with KEY a setting name, got '${arg}'`,
    );
  }
  const text = arg.slice(eq + 1);
  const column = eq + 2;
  const pos = { file, line: 1, column };
  const first = text[0];
  if (first === '"' || first === "'" || first === '[' || /^[0-9]/.test(text)) {
    return {
      key,
      keyPos: { file, line: 1, column: 1 },
      append: plus,
      value: parseCfgValue(text, file, column),
    };
  }
  return {
    key,
    keyPos: { file, line: 1, column: 1 },
    append: plus,
    value: { kind: 'string', value: text, pos },
  };
}

/** Applies entries in order: `=` replaces, `+=` appends to a list (as xl.cfg). Later wins. */
export function mergeEntries(entries: CfgEntry[]): Map<string, CfgEntry> {
  const out = new Map<string, CfgEntry>();
  for (const e of entries) {
    const prev = out.get(e.key);
    if (e.append && prev) {
      const items = [
        ...(prev.value.kind === 'list' ? prev.value.items : [prev.value]),
        ...(e.value.kind === 'list' ? e.value.items : [e.value]),
      ];
      out.set(e.key, { ...e, value: { kind: 'list', items, pos: prev.value.pos } });
    } else out.set(e.key, e);
  }
  return out;
}
