/**
 * Bounds checked on untrusted JSON text before JSON.parse sees it. JSON.parse has no depth
 * limit: 16 MiB of `[` costs the parser hundreds of MB and seconds before it fails, so a
 * linear pre-scan of the bytes refuses deep nesting first. The scan works on UTF-8 bytes (the
 * structural characters are ASCII and never occur inside a multi-byte sequence), so the offset
 * it reports is a byte offset in the input.
 */

/** Deepest nesting of arrays and objects any JSON xl reads may have (configs need about 4). */
export const JSON_MAX_DEPTH = 32;

export interface JsonBoundsViolation {
  /** Byte offset (in the scanned text) of the bracket that went too deep. */
  offset: number;
  depth: number;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * The first place `text` nests arrays/objects deeper than `maxDepth`, or undefined. Malformed
 * text is not judged here (JSON.parse does that, cheaply, once the depth is bounded).
 */
export function jsonDepthViolation(
  text: Uint8Array | string,
  maxDepth = JSON_MAX_DEPTH,
): JsonBoundsViolation | undefined {
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i] as number;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      depth++;
      if (depth > maxDepth) return { offset: i, depth };
    } else if ((c === CLOSE_ARRAY || c === CLOSE_OBJECT) && depth > 0) depth--;
  }
  return undefined;
}
