/**
 * A few lines of SVG, written by hand: elements from a name, attributes and children, with
 * every text and attribute value escaped (labels may carry a domain's or a file's name). The
 * charts here need nothing more, so xl carries no drawing dependency.
 */

export type Attrs = Record<string, string | number | undefined>;

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe inside an element or a quoted attribute; control characters are dropped. */
export function escapeXml(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    if (code < 0x20 && c !== '\t' && c !== '\n' && c !== '\r') continue;
    out += ESCAPES[c] ?? c;
  }
  return out;
}

/** A number as SVG wants it: at most two decimals, never NaN or Infinity (0 instead). */
export function num(v: number): string {
  if (!Number.isFinite(v)) return '0';
  return String(Math.round(v * 100) / 100);
}

function attrs(a: Attrs): string {
  return Object.entries(a)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => ` ${k}="${typeof v === 'number' ? num(v) : escapeXml(v)}"`)
    .join('');
}

/** `<name attrs>children</name>`; children are already SVG (from el/text), never raw input. */
export function el(name: string, a: Attrs = {}, ...children: string[]): string {
  return children.length === 0
    ? `<${name}${attrs(a)}/>`
    : `<${name}${attrs(a)}>${children.join('')}</${name}>`;
}

/** A text element; `content` is escaped. */
export function text(x: number, y: number, content: string, a: Attrs = {}): string {
  return el('text', { x, y, ...a }, escapeXml(content));
}

/** A whole document with a white background (a transparent chart is unreadable in dark viewers). */
export function svgDocument(width: number, height: number, title: string, body: string[]): string {
  return `${el(
    'svg',
    {
      xmlns: 'http://www.w3.org/2000/svg',
      width,
      height,
      viewBox: `0 0 ${num(width)} ${num(height)}`,
      'font-family': 'DejaVu Sans, Helvetica, Arial, sans-serif',
      'font-size': 12,
    },
    el('title', {}, escapeXml(title)),
    el('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    ...body,
  )}\n`;
}

/** A "nice" axis top at or above `max` (1, 2, 2.5 or 5 times a power of ten) and its step. */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0) || !Number.isFinite(max)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  return { top: Math.ceil(max / step - 1e-9) * step, step };
}

/** A distinct, print-safe colour per series index. */
export const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf'];
