import { describe, expect, it } from 'vitest';
import { el, escapeXml, niceScale, num, text } from './svg.js';

describe('svg', () => {
  it('escapes text and attributes, dropping control characters', () => {
    expect(escapeXml(`a<b>&"c'\u0007\u001b[2J`)).toBe('a&lt;b&gt;&amp;&quot;c&#39;[2J');
    expect(text(1, 2, '</text><script>')).toBe('<text x="1" y="2">&lt;/text&gt;&lt;script&gt;</text>');
    expect(el('rect', { x: 1.23456, y: Number.NaN, fill: '"red"', skip: undefined })).toBe(
      '<rect x="1.23" y="0" fill="&quot;red&quot;"/>',
    );
    expect(num(Infinity)).toBe('0');
  });

  it('picks an axis top at or above the maximum, on round steps', () => {
    expect(niceScale(4.3)).toEqual({ top: 5, step: 1 });
    expect(niceScale(0.9)).toEqual({ top: 1, step: 0.2 });
    expect(niceScale(880)).toEqual({ top: 1000, step: 200 });
    expect(niceScale(0)).toEqual({ top: 1, step: 0.2 });
    expect(niceScale(Number.NaN)).toEqual({ top: 1, step: 0.2 });
    for (const max of [0.013, 3, 7.7, 12, 99, 101, 2345]) {
      const { top, step } = niceScale(max);
      expect(top).toBeGreaterThanOrEqual(max);
      expect(top / step).toBeLessThanOrEqual(10);
    }
  });
});
