import net from 'node:net';

export type QmpReply = { return: unknown } | { error: { class: string; desc: string } };

/**
 * One QMP exchange over a fresh unix-socket connection: greeting, qmp_capabilities, then
 * `execute`; returns the command's `return` value, throws on an `error` reply or timeout.
 * Events arriving meanwhile are ignored. Deliberately minimal: the real client is @xlkit/qmp.
 */
export function qmpCommand(
  socketPath: string,
  execute: string,
  args?: Record<string, unknown>,
  timeoutMs = 10_000,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = net.createConnection(socketPath);
    let buffered = '';
    let stage: 'greeting' | 'capabilities' | 'command' = 'greeting';
    const timer = setTimeout(
      () => finish(new Error(`QMP ${execute}: no reply in ${timeoutMs} ms`)),
      timeoutMs,
    );
    const finish = (error: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    const send = (message: object) => socket.write(`${JSON.stringify(message)}\n`);

    socket.setEncoding('utf8');
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`QMP ${execute}: connection closed before the reply`)));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line === '') continue;
        const message = JSON.parse(line) as Record<string, unknown>;
        if ('event' in message) continue;
        if (stage === 'greeting' && 'QMP' in message) {
          stage = 'capabilities';
          send({ execute: 'qmp_capabilities' });
        } else if ('error' in message) {
          const { class: cls, desc } = (message as { error: { class: string; desc: string } }).error;
          finish(
            new Error(`QMP ${stage === 'command' ? execute : 'qmp_capabilities'} failed: ${cls}: ${desc}`),
          );
        } else if (stage === 'capabilities' && 'return' in message) {
          stage = 'command';
          send(args === undefined ? { execute } : { execute, arguments: args });
        } else if (stage === 'command' && 'return' in message) {
          finish(undefined, message['return']);
        }
      }
    });
  });
}
