export * from './errors.js';
export type { QmpEvent, QmpGreeting, QmpVersion, JsonObject } from './types.js';
export { eventTimeMs } from './types.js';
export { EventListener, type EventFilter } from './event-listener.js';
export { QmpClient, type QmpClientState, type QmpConnectOptions, type ExecuteOptions } from './qmp-client.js';
export {
  defaultTimeoutFor,
  QUERY_TIMEOUT_MS,
  DEFAULT_TIMEOUT_MS,
  LONG_TIMEOUT_MS,
} from './default-timeouts.js';
export { DEFAULT_MAX_LINE_BYTES } from './line-splitter.js';
export * as testing from './testing/index.js';
export * from './commands/run-state.js';
export * from './commands/block.js';
export * from './commands/nbd.js';
export * from './commands/migration.js';
export * from './helpers/wait-for-mirror-ready.js';
export * from './helpers/follow-migration.js';
