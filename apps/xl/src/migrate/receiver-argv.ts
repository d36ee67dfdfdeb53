/**
 * The receiver's command line, as an argument array. xl runs
 * `exec SSHCMD HOST xl migrate-receive FLAGS` through `sh -c`; xlkit never builds that string:
 *
 * - `-s SSHCMD` (default `ssh`) is split into words here (quotes and backslashes as in sh;
 *   shell operators refused); HOST is appended as one argument, then `xl migrate-receive` and
 *   fixed flags. ssh joins the remote words for the remote shell: only fixed words go there.
 * - `-s ''`: HOST itself is the receiver command, run by `sh -c` exactly as xl does (so
 *   `-s '' DOMAIN 'xl migrate-receive'` migrates to this host). The flags reach it as
 *   positional parameters (`"$@"`), never spliced into the text.
 */
import { UsageError } from '../errors.js';

export interface ReceiverCommand {
  file: string;
  args: string[];
}

const OPERATORS = new Set(['|', '&', ';', '<', '>', '(', ')', '`', '$', '*', '?', '[', '{', '}', '~', '#']);

/** Splits a command into words like sh would for plain words; refuses anything needing a shell. */
export function splitWords(command: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let i = 0;
  const bad = (what: string): never => {
    throw new UsageError(
      `-s '${command}': ${what}; give a plain command (or use -s '' with HOST as the whole receiver command)`,
    );
  };
  while (i < command.length) {
    const c = command[i]!;
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = command.indexOf("'", i + 1);
      if (end < 0) bad('unterminated single quote');
      word += command.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      for (;;) {
        if (i >= command.length) bad('unterminated double quote');
        const d = command[i]!;
        if (d === '"') break;
        if (d === '$' || d === '`') bad(`'${d}' inside double quotes is not supported`);
        if (d === '\\' && i + 1 < command.length && '"\\$`'.includes(command[i + 1]!)) {
          word += command[i + 1];
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      inWord = true;
      i++;
    } else if (c === '\\') {
      if (i + 1 >= command.length) bad('trailing backslash');
      word += command[i + 1];
      inWord = true;
      i += 2;
    } else if (OPERATORS.has(c)) {
      bad(`shell syntax '${c}' is not supported`);
    } else {
      word += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/**
 * The argv that starts `xl migrate-receive FLAGS` on HOST. `sshCommand` undefined = `ssh`.
 * `flags` are fixed option words chosen by xl (e.g. -p, -e), never user data.
 */
export function receiverCommand(
  sshCommand: string | undefined,
  host: string,
  flags: readonly string[],
): ReceiverCommand {
  if (host === '') throw new UsageError('HOST must not be empty');
  if (sshCommand === '') {
    return { file: 'sh', args: ['-c', `${host} "$@"`, 'xl-migrate-receiver', ...flags] };
  }
  const words = splitWords(sshCommand ?? 'ssh');
  if (words.length === 0) throw new UsageError("-s: empty transport command (use -s '' to run HOST itself)");
  if (host.startsWith('-')) throw new UsageError(`HOST '${host}' must not start with '-'`);
  const [file, ...rest] = words as [string, ...string[]];
  return { file, args: [...rest, host, 'xl', 'migrate-receive', ...flags] };
}
