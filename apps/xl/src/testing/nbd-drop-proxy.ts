/**
 * Test-only (XLKIT_FAULT=nbd-drop:BYTES): a unix socket proxy between QEMU's NBD client and
 * the endpoint it was told to use, which cuts each connection once BYTES came from QEMU, as a
 * dropped network connection would. It listens beside the real socket (in the domain's dir,
 * which xl owns) and is removed when closed.
 */
import net from 'node:net';
import { rm } from 'node:fs/promises';

export interface DropProxy {
  path: string;
  close(): Promise<void>;
}

export async function listenDropProxy(target: string, dropAfter: number): Promise<DropProxy> {
  const path = `${target}.drop`;
  await rm(path, { force: true });
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (from) => {
    const to = net.createConnection(target);
    open.add(from).add(to);
    let seen = 0;
    const cut = () => {
      from.destroy();
      to.destroy();
    };
    from.on('data', (b: Buffer) => {
      seen += b.length;
      if (seen >= dropAfter) cut();
    });
    from.pipe(to).on('error', cut);
    to.pipe(from).on('error', cut);
    from.on('close', () => (open.delete(from), cut()));
    to.on('close', () => (open.delete(to), cut()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve());
  });
  return {
    path,
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(path, { force: true });
    },
  };
}
