import type { ExecuteOptions, QmpClient } from '../qmp-client.js';
import type { JsonObject } from '../types.js';

/** Legacy SocketAddress as `nbd-server-start` takes it (with the `data` wrapper; inet port is a string). */
export type SocketAddressLegacy =
  | { type: 'unix'; data: { path: string } }
  | {
      type: 'inet';
      data: { host: string; port: string; numeric?: boolean; to?: number; ipv4?: boolean; ipv6?: boolean };
    }
  | { type: 'vsock'; data: { cid: string; port: string } }
  | { type: 'fd'; data: { str: string } };

export interface NbdServerStartArgs {
  addr: SocketAddressLegacy;
  'tls-creds'?: string;
  'tls-authz'?: string;
  'max-connections'?: number;
}

export interface BlockExportAddNbd {
  type: 'nbd';
  id: string;
  'node-name': string;
  writable?: boolean;
  writethrough?: boolean;
  iothread?: string;
  'fixed-iothread'?: boolean;
  /** Export name clients ask for (defaults to the node name). */
  name?: string;
  description?: string;
  bitmaps?: string[];
  'allocation-depth'?: boolean;
}

/** `{type: 'unix', data: {path}}` for nbd-server-start. */
export function unixSocketAddressLegacy(path: string): SocketAddressLegacy {
  return { type: 'unix', data: { path } };
}

/** `{type: 'inet', data: {host, port}}` for nbd-server-start (port sent as a string, as QEMU wants). */
export function inetSocketAddressLegacy(host: string, port: number | string): SocketAddressLegacy {
  return { type: 'inet', data: { host, port: String(port) } };
}

export async function nbdServerStart(
  c: QmpClient,
  args: NbdServerStartArgs,
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('nbd-server-start', args as unknown as JsonObject, opts);
}

export async function blockExportAdd(
  c: QmpClient,
  args: BlockExportAddNbd,
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('block-export-add', args as unknown as JsonObject, opts);
}

export async function blockExportDel(
  c: QmpClient,
  args: { id: string; mode?: 'safe' | 'hard' },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('block-export-del', args, opts);
}

/** Removes every export (each emits BLOCK_EXPORT_DELETED) and stops the server. */
export async function nbdServerStop(c: QmpClient, opts?: ExecuteOptions): Promise<void> {
  await c.execute('nbd-server-stop', undefined, opts);
}
