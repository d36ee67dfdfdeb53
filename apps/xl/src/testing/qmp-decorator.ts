/**
 * Test-only: a QmpClient whose `execute` passes through a rewrite of each command's arguments
 * (and whose `close` runs extra cleanup), everything else delegated to the real client.
 */
import type { QmpClient } from '@xlkit/qmp';

type Args = Record<string, unknown> | undefined;
export type ArgsRewrite = (command: string, args: Args) => Args | Promise<Args>;

export function decorateQmp(qmp: QmpClient, rewrite: ArgsRewrite, onClose?: () => Promise<void>): QmpClient {
  return new Proxy(qmp, {
    get(target, prop, receiver) {
      if (prop === 'execute') {
        return async (command: string, args?: Record<string, unknown>, opts?: object) =>
          target.execute(command, await rewrite(command, args), opts);
      }
      if (prop === 'close' && onClose) {
        return async () => {
          try {
            await target.close();
          } finally {
            await onClose();
          }
        };
      }
      const v: unknown = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
