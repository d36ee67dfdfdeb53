/**
 * xl.cfg syntax (as libxl's libxlu_cfg lexer/grammar): `KEY = VALUE` statements separated by
 * newlines or `;`, values are strings ('single' raw or "double" with C escapes), numbers
 * (decimal or 0x hex) or `[ lists, ]` that may span lines; `#` starts a comment.
 * This file only turns text into positioned entries; meaning lives in domain-config.ts.
 */
import { ConfigError, type SourcePosition } from '../errors.js';

export type CfgValue =
  | { kind: 'string'; value: string; pos: SourcePosition }
  | { kind: 'number'; value: number; pos: SourcePosition }
  | { kind: 'list'; items: CfgValue[]; pos: SourcePosition };

export interface CfgEntry {
  key: string;
  keyPos: SourcePosition;
  /** `+=` appends to a list instead of replacing it. */
  append: boolean;
  value: CfgValue;
}

/** Upper bounds for untrusted input. */
export const CFG_LIMITS = { maxBytes: 1 << 20, maxListDepth: 2, maxStringLength: 64 * 1024 } as const;

type TokenKind = 'ident' | 'string' | 'number' | '=' | '+=' | '[' | ']' | ',' | ';' | 'newline' | 'eof';
interface Token {
  kind: TokenKind;
  text: string;
  value?: string | number;
  pos: SourcePosition;
}

const ESCAPES: Record<string, string> = {
  n: '\n',
  t: '\t',
  r: '\r',
  '\\': '\\',
  '"': '"',
  "'": "'",
  '0': '\0',
};

function describe(t: Token): string {
  if (t.kind === 'eof') return 'end of file';
  if (t.kind === 'newline') return 'end of line';
  return `'${t.text}'`;
}

class Lexer {
  private i = 0;
  private line = 1;
  private lineStart = 0;
  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  private pos(at = this.i): SourcePosition {
    return { file: this.file, line: this.line, column: at - this.lineStart + 1 };
  }

  next(): Token {
    const s = this.text;
    for (;;) {
      const c = s[this.i];
      if (c === ' ' || c === '\t' || c === '\r') this.i++;
      else if (c === '#') while (this.i < s.length && s[this.i] !== '\n') this.i++;
      else break;
    }
    const start = this.i;
    const pos = this.pos();
    const c = s[this.i];
    if (c === undefined) return { kind: 'eof', text: '', pos };
    if (c === '\n') {
      this.i++;
      this.line++;
      this.lineStart = this.i;
      return { kind: 'newline', text: '\\n', pos };
    }
    if (c === '=' || c === '[' || c === ']' || c === ',' || c === ';') {
      this.i++;
      return { kind: c, text: c, pos };
    }
    if (c === '+' && s[this.i + 1] === '=') {
      this.i += 2;
      return { kind: '+=', text: '+=', pos };
    }
    if (/[A-Za-z_]/.test(c)) {
      while (this.i < s.length && /[A-Za-z0-9_]/.test(s[this.i] ?? '')) this.i++;
      return { kind: 'ident', text: s.slice(start, this.i), pos };
    }
    if (/[0-9]/.test(c)) return this.number(start, pos);
    if (c === '"' || c === "'") return this.string(c, pos);
    throw new ConfigError(pos, `unexpected character '${c}'`);
  }

  private number(start: number, pos: SourcePosition): Token {
    const s = this.text;
    while (this.i < s.length && /[0-9A-Za-z_.]/.test(s[this.i] ?? '')) this.i++;
    const text = s.slice(start, this.i);
    const value = /^0x[0-9a-f]+$/i.test(text)
      ? parseInt(text.slice(2), 16)
      : /^[0-9]+$/.test(text)
        ? Number(text)
        : NaN;
    if (Number.isNaN(value)) throw new ConfigError(pos, `expected a number, got '${text}'`);
    if (!Number.isSafeInteger(value)) throw new ConfigError(pos, `number ${text} is too large`);
    return { kind: 'number', text, value, pos };
  }

  private string(quote: string, pos: SourcePosition): Token {
    const s = this.text;
    const start = this.i;
    this.i++;
    let out = '';
    for (;;) {
      const c = s[this.i];
      if (c === undefined || c === '\n')
        throw new ConfigError(pos, `unterminated string: expected closing ${quote}`);
      this.i++;
      if (c === quote) break;
      if (c === '\\' && quote === '"') {
        const e = s[this.i];
        const mapped = e === undefined ? undefined : ESCAPES[e];
        if (mapped === undefined)
          throw new ConfigError(this.pos(this.i - 1), `unknown escape '\\${e ?? ''}' in string`);
        out += mapped;
        this.i++;
      } else out += c;
      if (out.length > CFG_LIMITS.maxStringLength)
        throw new ConfigError(pos, `string longer than ${CFG_LIMITS.maxStringLength} characters`);
    }
    return { kind: 'string', text: s.slice(start, this.i), value: out, pos };
  }
}

class Parser {
  private tok: Token;
  constructor(private readonly lexer: Lexer) {
    this.tok = lexer.next();
  }

  private advance(): Token {
    const t = this.tok;
    this.tok = this.lexer.next();
    return t;
  }

  private skipNewlines(): void {
    while (this.tok.kind === 'newline') this.advance();
  }

  entries(): CfgEntry[] {
    const out: CfgEntry[] = [];
    for (;;) {
      const t = this.tok;
      if (t.kind === 'eof') return out;
      if (t.kind === 'newline' || t.kind === ';') {
        this.advance();
        continue;
      }
      if (t.kind !== 'ident') throw new ConfigError(t.pos, `expected a setting name, got ${describe(t)}`);
      this.advance();
      const op = this.tok;
      if (op.kind !== '=' && op.kind !== '+=')
        throw new ConfigError(op.pos, `expected '=' after '${t.text}', got ${describe(op)}`);
      this.advance();
      const value = this.value(0);
      const end = this.tok;
      if (end.kind !== 'newline' && end.kind !== ';' && end.kind !== 'eof') {
        throw new ConfigError(
          end.pos,
          `expected end of line or ';' after the value of '${t.text}', got ${describe(end)}`,
        );
      }
      out.push({ key: t.text, keyPos: t.pos, append: op.kind === '+=', value });
    }
  }

  value(depth: number): CfgValue {
    const t = this.tok;
    if (t.kind === 'string') {
      this.advance();
      return { kind: 'string', value: t.value as string, pos: t.pos };
    }
    if (t.kind === 'number') {
      this.advance();
      return { kind: 'number', value: t.value as number, pos: t.pos };
    }
    if (t.kind === '[') {
      if (depth >= CFG_LIMITS.maxListDepth)
        throw new ConfigError(t.pos, `lists nested deeper than ${CFG_LIMITS.maxListDepth} levels`);
      this.advance();
      const items: CfgValue[] = [];
      this.skipNewlines();
      while (this.tok.kind !== ']') {
        items.push(this.value(depth + 1));
        this.skipNewlines();
        const sep = this.tok;
        if (sep.kind === ',') {
          this.advance();
          this.skipNewlines();
        } else if (sep.kind !== ']')
          throw new ConfigError(sep.pos, `expected ',' or ']' in list, got ${describe(sep)}`);
      }
      this.advance();
      return { kind: 'list', items, pos: t.pos };
    }
    throw new ConfigError(t.pos, `expected a value (string, number or list), got ${describe(t)}`);
  }

  /** A single value that must be all of the input (used for KEY=VALUE overrides). */
  lone(): CfgValue {
    const v = this.value(0);
    if (this.tok.kind !== 'eof')
      throw new ConfigError(this.tok.pos, `unexpected ${describe(this.tok)} after the value`);
    return v;
  }
}

/** Parses xl.cfg text into entries in file order; throws ConfigError with file, line and column. */
export function parseCfg(text: string, file: string): CfgEntry[] {
  if (text.length > CFG_LIMITS.maxBytes) {
    throw new ConfigError({ file, line: 1, column: 1 }, `file larger than ${CFG_LIMITS.maxBytes} bytes`);
  }
  return new Parser(new Lexer(text, file)).entries();
}

/** Parses one value in cfg syntax (e.g. `"x"`, `512`, `['a','b']`). */
export function parseCfgValue(text: string, file: string, column = 1): CfgValue {
  // Pad so reported columns match the value's place on the command line.
  return new Parser(new Lexer(' '.repeat(column - 1) + text, file)).lone();
}
