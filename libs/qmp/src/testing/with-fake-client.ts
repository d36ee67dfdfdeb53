import { QmpClient } from '../qmp-client.js';
import { FakeQmpServer, type FakeQmpServerOptions } from './fake-qmp-server.js';

/**
 * Starts a fake server, connects a client, runs `fn`, then closes both (also when `fn` throws).
 */
export async function withFakeClient<T>(
  opts: FakeQmpServerOptions,
  fn: (client: QmpClient, server: FakeQmpServer) => Promise<T>,
): Promise<T> {
  const server = await FakeQmpServer.start(opts);
  try {
    const client = await QmpClient.connect(server.socketPath, { connectTimeoutMs: 2000 });
    try {
      return await fn(client, server);
    } finally {
      await client.close();
    }
  } finally {
    await server.close();
  }
}
