/**
 * Text bound for a terminal that may hold bytes from a save file, a migration peer, a QMP reply
 * or a state dir: control characters (C0, DEL, C1: escape sequences, NUL, carriage returns,
 * newlines) and the bidirectional overrides that reorder what a reader sees are shown as
 * visible escapes (`\x1b`, `\n`, `\u202e`), never passed through. Everything xl prints goes
 * through here: main.ts's error printer, println, and the commands' tables.
 */

// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** What JSON.stringify leaves raw (it escapes C0 inside strings; outside them only layout). */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' };

function escape(c: string): string {
  const named = NAMED[c];
  if (named !== undefined) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff
    ? `\\x${code.toString(16).padStart(2, '0')}`
    : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One line, nothing a terminal interprets: every control character shown as an escape. */
export function oneLine(text: string): string {
  return text.replace(UNSAFE, escape);
}

/** The same, less the tab (tables use it: xl list's header, as Xen's xl prints it). */
const UNSAFE_BUT_TAB =
  // eslint-disable-next-line no-control-regex
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Like oneLine, but the newlines and tabs the text has are kept (each line made safe on its own). */
export function safeLines(text: string): string {
  return text
    .split('\n')
    .map((line) => line.replace(UNSAFE_BUT_TAB, escape))
    .join('\n');
}

/**
 * JSON text with the characters JSON.stringify leaves raw that a terminal would act on (DEL,
 * C1, bidirectional controls) written as \u escapes: the same value, safe to print.
 */
export function safeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(
    UNSAFE_IN_JSON,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
