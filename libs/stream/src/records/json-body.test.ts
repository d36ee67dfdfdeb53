import { describe, expect, it } from 'vitest';
import { StreamError } from '../errors.js';
import { JSON_MAX_DEPTH } from '../json-bounds.js';
import { RECORD_CODECS } from '../record-types.js';
import * as B from '../testing/byte-builder.js';
import { outcome } from '../testing/collect.js';
import {
  JSON_BODY_MIN,
  decodeJsonBody,
  encodeJsonBody,
  firstInvalidUtf8,
  type JsonBodySpec,
} from './json-body.js';

const SPEC: JsonBodySpec = { type: 0x584c0fff, what: 'test record', maxLength: 64 };
const AT = 1000;

function decode(body: Buffer | Buffer[], len?: number) {
  const parts = Buffer.isBuffer(body) ? [body] : body;
  return decodeJsonBody(parts, len ?? parts.reduce((n, b) => n + b.length, 0), AT, SPEC);
}

/** The StreamError `f` throws. */
function thrown(f: () => unknown): StreamError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(StreamError);
    return err as StreamError;
  }
  throw new Error('expected a StreamError');
}

const nul = (text: string | Buffer) =>
  Buffer.concat([Buffer.isBuffer(text) ? text : Buffer.from(text), Buffer.from([0])]);

describe('JSON record bodies', () => {
  it('round-trip: the text and one NUL, decoded alike from any split of the body', () => {
    const value = { a: 1, s: 'é€😀', nested: { list: [1, 'x'] } };
    const [b] = encodeJsonBody(value, SPEC) as [Buffer];
    expect(b.equals(nul(JSON.stringify(value)))).toBe(true);
    expect(decode(b)).toEqual(value);
    for (let cut = 1; cut < b.length; cut++)
      expect(decode([b.subarray(0, cut), b.subarray(cut)])).toEqual(value);
  });

  it('checks the length against its bounds before touching the body', () => {
    expect(thrown(() => decode(Buffer.from([0]))).code).toBe('STREAM_BAD_LENGTH');
    // No bytes at all behind an oversize length: refused on the length, nothing is concatenated.
    const e = thrown(() => decodeJsonBody([], SPEC.maxLength + 1, AT, SPEC));
    expect(e).toMatchObject({
      code: 'STREAM_BAD_LENGTH',
      offset: AT,
      recordType: SPEC.type,
      expected: `${JSON_BODY_MIN}..64`,
      actual: 65,
    });
    expect(decode(nul(`{"s":"${'x'.repeat(SPEC.maxLength - 9)}"}`))).toBeTruthy();
  });

  it('truncated: fewer bytes than the length says', () => {
    const e = thrown(() => decode([Buffer.from('{"a":')], 9));
    expect(e).toMatchObject({
      code: 'STREAM_TRUNCATED',
      offset: AT + 5,
      expected: '9 bytes',
      actual: '5 bytes',
    });
  });

  it('missing NUL: the error points at the last byte and says what it found', () => {
    const e = thrown(() => decode(Buffer.from('{"a":1}')));
    expect(e).toMatchObject({ code: 'STREAM_BAD_RECORD', offset: AT + 6, recordType: SPEC.type });
    expect(e.message).toContain(
      'test record: JSON text is not NUL-terminated; expected NUL as the last body byte, got 0x7d',
    );
  });

  it('bytes after the NUL are refused, zero bytes too: padding is outside body_length', () => {
    for (const tail of ['x', '\0', '\0\0\0']) {
      const e = thrown(() => decode(Buffer.from(`{"a":1}\0${tail}`)));
      expect(e).toMatchObject({ code: 'STREAM_BAD_RECORD', offset: AT + 8 });
      expect(e.message).toContain('bytes after the NUL');
    }
    expect(thrown(() => decode(nul('{"a":\0 1}'))).offset).toBe(AT + 6);
  });

  it('the same body framed with its padding after body_length reads fine', async () => {
    const info = Buffer.from(`${JSON.stringify(B.DOMAIN_INFO_JSON)}\0`);
    const stream = (rec: Buffer) => Buffer.concat([B.streamHeader(), B.phase(1), rec, B.end()]);
    expect(await outcome(stream(B.record(B.T.DOMAIN_INFO, info)))).toBe('ok');
    // Zero bytes counted into body_length instead: bytes after the NUL.
    expect(await outcome(stream(B.record(B.T.DOMAIN_INFO, Buffer.concat([info, Buffer.alloc(3)]))))).toBe(
      'STREAM_BAD_RECORD',
    );
  });

  it('invalid UTF-8 is refused at the first bad byte (overlong, surrogate, cut sequence, stray byte)', () => {
    const cases: Array<[Buffer, number]> = [
      [Buffer.from([0x7b, 0x22, 0x73, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 6],
      [Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]), 6],
      [Buffer.concat([Buffer.from('{"s":"é'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]), 8],
      [Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}')]), 6],
      [Buffer.concat([Buffer.from('{"s":"'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('"}')]), 6],
    ];
    for (const [text, bad] of cases) {
      const e = thrown(() => decode(nul(text)));
      expect(e).toMatchObject({ code: 'STREAM_BAD_RECORD', offset: AT + bad, expected: 'UTF-8' });
      expect(e.message).toContain('not valid UTF-8');
    }
  });

  it('firstInvalidUtf8 agrees with the strict decoder', () => {
    const strict = new TextDecoder('utf-8', { fatal: true });
    const ok = (b: Buffer) => {
      try {
        strict.decode(b);
        return true;
      } catch {
        return false;
      }
    };
    for (let seed = 1; seed <= 3000; seed++) {
      const b = B.pattern(1 + (seed % 12), seed);
      for (let i = 0; i < b.length; i++) if (seed % 3 === 0) b[i] = (b[i] as number) & 0x7f || 0x41;
      const at = firstInvalidUtf8(b);
      expect(at === -1).toBe(ok(b));
      if (at >= 0) expect(ok(b.subarray(0, at))).toBe(true);
    }
    expect(firstInvalidUtf8(Buffer.from('aé€😀'))).toBe(-1);
  });

  it('invalid JSON and JSON that is not an object', () => {
    for (const text of ['{oops', ' ', '{"a":1}}', '\ufeff{"a":1}']) {
      const e = thrown(() => decode(nul(text)));
      expect(e).toMatchObject({ code: 'STREAM_BAD_RECORD', offset: AT });
      expect(e.message).toContain('invalid JSON');
    }
    for (const [text, kind] of [
      ['[]', 'an array'],
      ['1', 'a number'],
      ['null', 'null'],
      ['"s"', 'a string'],
      ['true', 'a boolean'],
    ]) {
      const e = thrown(() => decode(nul(text as string)));
      expect(e.message).toContain(
        `test record: body is not a JSON object; expected a JSON object, got ${kind}`,
      );
    }
  });

  it('encode refuses a body over the bound before allocating it; exactly the bound fits', () => {
    const fits = { s: 'x'.repeat(SPEC.maxLength - 9) };
    expect(encodeJsonBody(fits, SPEC)[0]?.length).toBe(SPEC.maxLength);
    const e = thrown(() => encodeJsonBody({ s: 'x'.repeat(SPEC.maxLength - 8) }, SPEC));
    expect(e).toMatchObject({
      code: 'STREAM_BAD_LENGTH',
      recordType: SPEC.type,
      expected: '<= 64',
      actual: 65,
    });
    // Multi-byte characters count as bytes, not characters.
    expect(thrown(() => encodeJsonBody({ s: '€'.repeat(20) }, SPEC)).code).toBe('STREAM_BAD_LENGTH');
  });

  it('every JSON record decodes through it', () => {
    const jsonRecords = [
      RECORD_CODECS.DOMAIN_INFO,
      RECORD_CODECS.DISK_PLAN,
      RECORD_CODECS.DISK_EXPORTS,
      RECORD_CODECS.MIGRATION_HELLO,
      RECORD_CODECS.MIGRATION_ERROR,
      RECORD_CODECS.RAM_ENDPOINT,
    ];
    for (const codec of jsonRecords) {
      expect(codec.minLength).toBe(JSON_BODY_MIN);
      const e = thrown(() => codec.decode([Buffer.from('{"a":1}')], 7, AT, {}));
      expect(e).toMatchObject({ code: 'STREAM_BAD_RECORD', offset: AT + 6, recordType: codec.type });
      expect(e.message).toContain('JSON text is not NUL-terminated');
      expect(thrown(() => codec.decode([], codec.maxLength + 1, AT, {})).code).toBe('STREAM_BAD_LENGTH');
    }
  });
});

describe('JSON record bodies from a peer: bounded before parsing', () => {
  it('refuses nesting deeper than JSON_MAX_DEPTH at the byte of the bracket, naming the record', () => {
    const text = `{"a":${'['.repeat(JSON_MAX_DEPTH)}${']'.repeat(JSON_MAX_DEPTH)}}`;
    const spec = { ...SPEC, maxLength: 4096 };
    const err = thrown(() => decodeJsonBody([nul(text)], text.length + 1, AT, spec));
    expect(err.code).toBe('STREAM_BAD_RECORD');
    expect(err.offset).toBe(AT + 5 + JSON_MAX_DEPTH - 1);
    expect(err.recordType).toBe(SPEC.type);
    expect(err.message).toMatch(/test record: JSON nests too deep/);
    const ok = `{"a":${'['.repeat(JSON_MAX_DEPTH - 1)}${']'.repeat(JSON_MAX_DEPTH - 1)}}`;
    expect(decodeJsonBody([nul(ok)], ok.length + 1, AT, spec)).toHaveProperty('a');
  });
});
