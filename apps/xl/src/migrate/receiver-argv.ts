/**
 * The receiver's command line, as an argument array. xl runs
 * `exec SSHCMD HOST xl migrate-receive FLAGS` through `sh -c`; xlkit runs the same shell
 * command without splicing any data into its text:
 *
 * - `-s SSHCMD` (default `ssh`) is shell text by definition, the invoking user's own (so
 *   `-s 'ssh -i ~/.ssh/key'` and `-s 'env TERM=dumb ssh -p "$PORT"'` work as in xl). It runs as
 *   `sh -c 'exec SSHCMD "$@"' sh HOST xl migrate-receive FLAGS`: HOST and the receiver's words
 *   reach it as positional parameters, never as text the shell parses. ssh joins the remote
 *   words for the remote shell: only fixed words go there.
 * - `-s ''`: HOST itself is the receiver command, run by `sh -c` exactly as xl does (so
 *   `-s '' DOMAIN 'xl migrate-receive'` migrates to this host). The flags reach it as
 *   positional parameters (`"$@"`).
 */
import { execaSync } from 'execa';
import { UsageError } from '../errors.js';

export interface ReceiverCommand {
  file: string;
  args: string[];
}

/** `$0` of the shell that runs the transport: what sh names in its own error messages. */
const SHELL_NAME = 'sh';

/**
 * The argv that starts `xl migrate-receive FLAGS` on HOST. `sshCommand` undefined = `ssh`.
 * `flags` are option words chosen by xl (e.g. -p, -e), and --target-dir's directory, which
 * migrate checks against PLAIN_DIR: nothing the remote shell would interpret.
 */
export function receiverCommand(
  sshCommand: string | undefined,
  host: string,
  flags: readonly string[],
): ReceiverCommand {
  if (host === '') throw new UsageError('HOST must not be empty');
  if (sshCommand === '') return { file: 'sh', args: ['-c', `${host} "$@"`, SHELL_NAME, ...flags] };
  const transport = sshCommand ?? 'ssh';
  if (transport.trim() === '')
    throw new UsageError("-s: the transport command is blank (use -s '' to run HOST itself)");
  if (host.startsWith('-')) throw new UsageError(`HOST '${host}' must not start with '-'`);
  return {
    file: 'sh',
    args: ['-c', `exec ${transport} "$@"`, SHELL_NAME, host, 'xl', 'migrate-receive', ...flags],
  };
}

/**
 * The receiver command for `xl migrate`, checked before anything is touched: the shell text
 * must parse (`sh -n`, which runs nothing), else a usage error quoting sh's complaint.
 */
export function checkedReceiverCommand(
  sshCommand: string | undefined,
  host: string,
  flags: readonly string[],
): ReceiverCommand {
  const cmd = receiverCommand(sshCommand, host, flags);
  const [, script = ''] = cmd.args;
  const r = execaSync('sh', ['-n', '-c', script], { reject: false, stdin: 'ignore', timeout: 10_000 });
  if (r.exitCode !== 0) {
    const why =
      String(r.stderr)
        .split('\n')[0]
        ?.replace(/^sh: \d+: /, '') || `sh -n exited ${r.exitCode}`;
    const what =
      sshCommand === '' ? `HOST '${host}' (the receiver command with -s '')` : `-s '${sshCommand}'`;
    throw new UsageError(`${what} is not a valid shell command: ${why}`);
  }
  return cmd;
}
