import type { ExecuteOptions, QmpClient } from '../qmp-client.js';
import type { JsonObject } from '../types.js';

/** Flat SocketAddress as `blockdev-add` takes it (no `data` wrapper). */
export type SocketAddress =
  { type: 'unix'; path: string } | { type: 'inet'; host: string; port: string } | { type: 'fd'; str: string };

/** `blockdev-add` for an NBD client node (7.2 names). */
export interface BlockdevAddNbd {
  driver: 'nbd';
  'node-name': string;
  server: SocketAddress;
  export?: string;
  'tls-creds'?: string;
  'tls-hostname'?: string;
  'reconnect-delay'?: number;
  'open-timeout'?: number;
  'read-only'?: boolean;
  'auto-read-only'?: boolean;
  discard?: 'ignore' | 'unmap';
  'detect-zeroes'?: 'off' | 'on' | 'unmap';
}

/** Any other `blockdev-add` driver, passed through as QEMU's BlockdevOptions. */
export interface BlockdevAddOther extends JsonObject {
  driver: string;
  'node-name': string;
}

export type BlockdevOnError = 'report' | 'ignore' | 'enospc' | 'stop' | 'auto';
export type MirrorSyncMode = 'top' | 'full' | 'none' | 'incremental' | 'bitmap';
export type MirrorCopyMode = 'background' | 'write-blocking';

interface MirrorCommon {
  'job-id'?: string;
  device: string;
  sync: MirrorSyncMode;
  replaces?: string;
  speed?: number;
  granularity?: number;
  'buf-size'?: number;
  'on-source-error'?: BlockdevOnError;
  'on-target-error'?: BlockdevOnError;
  'copy-mode'?: MirrorCopyMode;
  'auto-finalize'?: boolean;
  'auto-dismiss'?: boolean;
}

export interface DriveMirrorArgs extends MirrorCommon {
  /** File name, or an `nbd:` URI with `mode: 'existing'`. */
  target: string;
  format?: string;
  'node-name'?: string;
  mode?: 'existing' | 'absolute-paths';
  unmap?: boolean;
}

export interface BlockdevMirrorArgs extends MirrorCommon {
  /** node-name of a node created by `blockdev-add`. */
  target: string;
  'filter-node-name'?: string;
}

export type JobStatus =
  | 'undefined'
  | 'created'
  | 'running'
  | 'paused'
  | 'ready'
  | 'standby'
  | 'waiting'
  | 'pending'
  | 'aborting'
  | 'concluded'
  | 'null';

/** One `query-block-jobs` entry (7.2). */
export interface BlockJobInfo {
  type: string;
  device: string;
  len: number;
  offset: number;
  busy: boolean;
  paused: boolean;
  speed: number;
  'io-status': string;
  ready: boolean;
  status: JobStatus;
  'auto-finalize': boolean;
  'auto-dismiss': boolean;
  error?: string;
}

/** One `query-block` entry (the fields xlkit reads; QEMU sends more). */
export interface BlockInfo extends JsonObject {
  device: string;
  qdev?: string;
  type: string;
  removable: boolean;
  locked: boolean;
  inserted?: BlockDeviceInfo;
}

/** One `query-named-block-nodes` entry (the fields xlkit reads; QEMU sends more). */
export interface BlockDeviceInfo extends JsonObject {
  'node-name'?: string;
  drv: string;
  file: string;
  ro: boolean;
  image?: JsonObject & { filename: string; format: string; 'virtual-size': number };
  /** BlockdevCacheInfo: direct = opened with O_DIRECT. */
  cache?: JsonObject & { writeback: boolean; direct: boolean; 'no-flush': boolean };
}

export function queryBlock(c: QmpClient, opts?: ExecuteOptions): Promise<BlockInfo[]> {
  return c.execute<BlockInfo[]>('query-block', undefined, opts);
}

export function queryNamedBlockNodes(
  c: QmpClient,
  args: { flat?: boolean } = {},
  opts?: ExecuteOptions,
): Promise<BlockDeviceInfo[]> {
  return c.execute<BlockDeviceInfo[]>('query-named-block-nodes', args, opts);
}

export async function blockdevAdd(
  c: QmpClient,
  args: BlockdevAddNbd | BlockdevAddOther,
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('blockdev-add', args as unknown as JsonObject, opts);
}

export async function blockdevDel(
  c: QmpClient,
  args: { 'node-name': string },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('blockdev-del', args, opts);
}

export async function driveMirror(c: QmpClient, args: DriveMirrorArgs, opts?: ExecuteOptions): Promise<void> {
  await c.execute('drive-mirror', args as unknown as JsonObject, opts);
}

export async function blockdevMirror(
  c: QmpClient,
  args: BlockdevMirrorArgs,
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('blockdev-mirror', args as unknown as JsonObject, opts);
}

/** On a READY mirror, without `force`, ends the job successfully without pivoting. */
export async function blockJobCancel(
  c: QmpClient,
  args: { device: string; force?: boolean },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('block-job-cancel', args, opts);
}

/** Pivots onto the mirror target. */
export async function blockJobComplete(
  c: QmpClient,
  args: { device: string },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('block-job-complete', args, opts);
}

export async function blockJobSetSpeed(
  c: QmpClient,
  args: { device: string; speed: number },
  opts?: ExecuteOptions,
): Promise<void> {
  await c.execute('block-job-set-speed', args, opts);
}

export async function jobDismiss(c: QmpClient, args: { id: string }, opts?: ExecuteOptions): Promise<void> {
  await c.execute('job-dismiss', args, opts);
}

export async function jobCancel(c: QmpClient, args: { id: string }, opts?: ExecuteOptions): Promise<void> {
  await c.execute('job-cancel', args, opts);
}

export async function jobFinalize(c: QmpClient, args: { id: string }, opts?: ExecuteOptions): Promise<void> {
  await c.execute('job-finalize', args, opts);
}

export function queryBlockJobs(c: QmpClient, opts?: ExecuteOptions): Promise<BlockJobInfo[]> {
  return c.execute<BlockJobInfo[]>('query-block-jobs', undefined, opts);
}
