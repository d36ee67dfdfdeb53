/**
 * `xl stream-dump [--json] FILE|-`: print the outer header, stream header and one line per
 * record (runs of RAM chunks squashed into one line), then a verdict. A StreamError
 * propagates after the dump so main reports it on one line and exits 1.
 */
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import {
  StreamError,
  readStream,
  recordTypeName,
  RECORD_CODECS,
  type RecordCodec,
  type StreamRecord,
} from '@xlkit/stream';
import type { CommandIo, CommandSpec } from '../command.js';
import { UsageError } from '../errors.js';
import { outputClosed } from '../progress/closed-output.js';
import { oneLine, safeJson } from '../progress/terminal-text.js';

interface DumpLine {
  offset: number;
  type: string;
  length: number;
  summary: string;
  count?: number;
}

interface RamRun {
  offset: number;
  count: number;
  length: number;
  first: number;
  bytes: number;
}

function summarize(rec: StreamRecord): string {
  const codec = RECORD_CODECS[rec.name] as RecordCodec<unknown>;
  return codec.summary(rec.value);
}

function line(l: DumpLine): string {
  const type = l.count === undefined ? l.type : `${l.type} x${l.count}`;
  return `${String(l.offset).padStart(12)}  ${type.padEnd(26)} ${String(l.length).padStart(12)}  ${l.summary}`;
}

function preview(text: string | undefined): string {
  if (text === undefined) return 'none';
  return text.length > 100 ? `${text.slice(0, 100)}… (${text.length} chars)` : text;
}

export const streamDumpCommand: CommandSpec = {
  name: 'stream-dump',
  summary: 'Check a save/migration stream and list its records',
  usage: '[--json] <File|->',
  options: { json: { type: 'boolean', default: false } },
  optionHelp: { json: 'print one JSON document instead of text' },
  positionals: { min: 1, max: 1 },
  async run(args, io: CommandIo) {
    const path = args.positionals[0];
    if (path === undefined || path === '')
      throw new UsageError('stream-dump needs a file name or - for stdin');
    const json = args.values.json === true;
    const input = path === '-' ? io.stdin : createReadStream(path, { highWaterMark: 1024 * 1024 });
    // Everything shown comes from the file: each line is made safe for the terminal.
    const print = (text: string) => io.stdout.write(`${oneLine(text)}\n`);
    const lines: DumpLine[] = [];
    const out = (l: DumpLine) => {
      lines.push(l);
      if (!json) print(line(l));
    };
    let run: RamRun | undefined;
    const flushRun = () => {
      if (run === undefined) return;
      const r = run;
      run = undefined;
      out({
        offset: r.offset,
        type: 'RAM_CHUNK',
        length: r.length,
        count: r.count,
        summary: `RAM stream bytes ${r.first}..${r.first + r.bytes - 1} (${r.bytes} bytes), crc32 ok`,
      });
    };
    const reader = readStream(input as AsyncIterable<Buffer>, {
      onSkip: (s) => {
        flushRun();
        out({
          offset: s.offset,
          type: recordTypeName(s.type),
          length: s.length,
          summary: 'optional, skipped',
        });
      },
    });
    let records = 0;
    let headerInfo: Record<string, unknown> = {};
    let failure: StreamError | undefined;
    try {
      const { xlHeader, streamHeader } = await reader.headers();
      headerInfo = {
        xlHeader:
          xlHeader === undefined
            ? null
            : {
                mandatoryFlags: xlHeader.mandatoryFlags,
                optionalFlags: xlHeader.optionalFlags,
                size: xlHeader.size,
                config: xlHeader.config ?? null,
              },
        streamHeader: { ident: 'LibxlFmt', ...streamHeader },
      };
      if (!json) {
        print(
          xlHeader === undefined
            ? 'xl header:     none'
            : `xl header:     mandatory flags 0x${xlHeader.mandatoryFlags.toString(16)}, optional flags 0x${xlHeader.optionalFlags.toString(16)}, ${xlHeader.size} bytes, config ${preview(xlHeader.configText)}`,
        );
        print(
          `stream header: LibxlFmt version ${streamHeader.version}, options 0x${streamHeader.options.toString(16)}`,
        );
        print(`${'offset'.padStart(12)}  ${'type'.padEnd(26)} ${'length'.padStart(12)}  summary`);
      }
      for await (const rec of reader) {
        records++;
        if (rec.name === 'RAM_CHUNK') {
          if (run === undefined)
            run = { offset: rec.offset, count: 0, length: 0, first: rec.value.offset, bytes: 0 };
          run.count++;
          run.length += rec.length;
          run.bytes += rec.value.length;
          continue;
        }
        flushRun();
        out({ offset: rec.offset, type: rec.name, length: rec.length, summary: summarize(rec) });
        // Nobody reads on (`| head`): stop, as cat would, rather than check GiBs for no one.
        if (outputClosed(io.stdout)) {
          (input as Partial<Readable>).destroy?.();
          return 0;
        }
      }
    } catch (err) {
      if (!(err instanceof StreamError)) throw err;
      failure = err;
      flushRun();
    }
    const verdict =
      failure === undefined
        ? { valid: true, records, bytes: reader.offset }
        : {
            valid: false,
            records,
            error: { offset: failure.offset ?? null, code: failure.code, message: failure.message },
          };
    if (json) {
      io.stdout.write(`${safeJson({ ...headerInfo, records: lines, verdict }, 2)}\n`);
    } else {
      print(
        failure === undefined
          ? `verdict: valid (${records} records, ${reader.offset} bytes)`
          : `verdict: INVALID after ${records} records: ${failure.message}`,
      );
    }
    if (failure !== undefined) throw failure;
    return 0;
  },
};
