/** Public API of @xlkit/xl, for the commands built on it (save, restore, migrate) and tests. */
export type { CommandArgs, CommandIo, CommandSpec, GlobalOptions, OptionValues } from './command.js';
export { XlError, UsageError, ConfigError, type XlErrorCode, type SourcePosition } from './errors.js';
export { main, isKnownError, EXIT_OK, EXIT_FAILED, EXIT_USAGE } from './main.js';
export { commandTable } from './command-table.js';
export { parseCfg, parseCfgValue, type CfgEntry, type CfgValue } from './config/cfg-syntax.js';
export { parseDiskSpec, type DiskSpec, type DiskFormat, type DiskBus } from './config/disk-spec.js';
export { buildConfig, type BuildOptions, type BuiltConfig } from './config/build-config.js';
export { loadConfigFile, parseConfigText } from './config/load-config.js';
export { parseOverride, mergeEntries } from './config/overrides.js';
export {
  DEFAULT_QEMU,
  checkDomainName,
  type DomainConfig,
  type VifSpec,
  type Accel,
  type MemoryBacking,
  type LifecycleAction,
} from './config/domain-config.js';
export { DomainStore, openStore } from './store/domain-store.js';
export { resolveStateDir } from './store/state-dir.js';
export { domainPaths, type DomainPaths } from './store/domain-paths.js';
export type {
  DomainRecord,
  DomainStatus,
  MigrationMark,
  QemuProcessInfo,
  NewDomain,
} from './store/domain-record.js';
export { isProcessAlive, readProcStat } from './host/process-info.js';
export { buildQemuArgv, diskNodeName, escapeOptValue, type QemuLaunchOptions } from './qemu/argv.js';
export {
  guestRamBytes,
  qemuSize,
  savedRamBytes,
  tcgLosesDirtyWrites,
  RAM_TAIL_BYTES,
} from './qemu/guest-ram.js';
export { qemuEnv, withMallocTunables } from './qemu/env.js';
export { resolveDomain } from './domain/resolve.js';
export { startDomain, type StartOptions } from './domain/start.js';
export {
  connectQmp,
  withQmp,
  queryRunState,
  leavePostmigrate,
  type ConnectQmpOptions,
  type RunStateResult,
} from './domain/qmp.js';
export { destroyDomain, waitForQemuExit } from './domain/destroy.js';
export {
  pauseDomain,
  unpauseDomain,
  shutdownDomain,
  renameDomain,
  type ShutdownOptions,
} from './domain/control.js';
export { reapDomains, formatReaped, type ReapResult, type ReapedDomain } from './domain/reap.js';
export { describeDomain, stateFlags, type DomainView } from './domain/describe.js';
export { isQemuAlive, lastQemuLogLine } from './domain/liveness.js';
export { chooseAccel, incomingAccel, describeAccel, type AccelChoice } from './domain/accel.js';
export { kvmVerdict, runKvmProbe, type KvmVerdict } from './qemu/kvm-probe.js';
export { openSession, openDomain, type Session } from './commands/common.js';
export {
  sendRam,
  UNLIMITED_BANDWIDTH,
  type SendRamOptions,
  type SendRamResult,
  type RamProgress,
} from './ram/outgoing.js';
export { receiveRam, type ReceiveRamOptions, type ReceiveRamResult } from './ram/incoming.js';
export { collectDomainInfo, toDomainInfo, machineName, type DomainInfoSources } from './ram/domain-info.js';
export {
  checkHostCanRun,
  assertHostCanRun,
  probeHost,
  type HostFacts,
  type HostDisk,
} from './domain/host-check.js';
export {
  qemuCapabilities,
  parseMachineHelp,
  parseVersion,
  type QemuCapabilities,
  type QemuVersion,
} from './qemu/capabilities.js';
export { checkSavedConfig } from './ram/saved-config.js';
export { AtomicFile, partialPath } from './ram/atomic-file.js';
export { withInterrupts } from './commands/interrupt.js';
export { saveDomain, type SaveOptions, type SaveResult, type AfterSave } from './ram/save-domain.js';
export { restoreDomain, type RestoreOptions, type RestoreResult } from './ram/restore-domain.js';
export {
  ProgressReporter,
  type ProgressMode,
  type ProgressSample,
  type ProgressOutput,
  type ReporterOptions,
} from './progress/reporter.js';
export {
  formatBytes,
  formatRate,
  formatDuration,
  formatProgressLine,
  etaOf,
  rateOf,
  type ProgressSnapshot,
} from './progress/format.js';
export { barChartSvg, type BarChart, type BarGroup, type BarValue } from './progress/bar-chart.js';
export { TimelineRecorder, type TimelineData } from './progress/timeline.js';
export { timelineSvg } from './progress/timeline-chart.js';
export { renderSvg, decodePng, colourStats, shareOf, type Pixels } from './testing/svg-render.js';
export { testDomainConfig } from './testing/domain-config.js';
export { migrateDomain, type MigrateOptions, type MigrateResult } from './migrate/send-migration.js';
export { receiveMigration, type ReceiveOptions, type ReceiveResult } from './migrate/receive-migration.js';
export { senderHandshake, receiverHandshake, type SenderLink, type ReceiverLink } from './link/handshake.js';
export {
  BANNER,
  READY,
  GO,
  REPORT,
  PROTOCOL_MIN,
  PROTOCOL_MAX,
  Feature,
  makeHello,
  negotiate,
  type Agreement,
} from './link/protocol.js';
export { checkedReceiverCommand, receiverCommand, type ReceiverCommand } from './migrate/receiver-argv.js';
export { incomingName, migratedAwayName } from './migrate/names.js';
