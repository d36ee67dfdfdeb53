export { guestArtifacts, repoRoot, type GuestArtifacts } from './paths.js';
export { accelProbeFile, type Accel } from './accel.js';
export { bootGuest, guestAccel as accel, QEMU_BINARY, type BootOptions, type Guest } from './boot-guest.js';
export { guestQemuArgs, BASE_CMDLINE, type DiskSpec, type GuestArgsOptions } from './qemu-args.js';
export {
  readSerial,
  waitForSerial,
  waitForLine,
  waitForHeartbeats,
  lastHeartbeat,
  type WaitOptions,
} from './serial-log.js';
export * from './console-lines.js';
export { qmpCommand } from './qmp-raw.js';
export { sendSerialLine, GUEST_COMMAND } from './serial-input.js';
export {
  BLOCK_SIZE,
  BLOCK_MAGIC,
  BLOCK_VERSION,
  encodeBlock,
  checkBlock,
  verifyDiskBuffer,
  verifyDiskImage,
  type DiskVerifyResult,
} from './disk-pattern.js';
export { createDiskImage, convertToRaw } from './disk-image.js';
export { tempDir } from './temp-dir.js';
export {
  createHostPair,
  createBridgedHosts,
  withNetns,
  listNetns,
  sweepStaleNetns,
  NETNS_PREFIX,
  type HostPair,
  type BridgedHosts,
  type NetnsHost,
} from './netns.js';
export {
  track,
  settle,
  outlivingTest,
  cleanupAll,
  cleanupAfterEach,
  pendingCleanups,
  type Cleanup,
} from './cleanup-registry.js';
export { startSshd, waitForSsh, type SshServer, type SshdOptions } from './sshd.js';
export {
  compareRamDumps,
  ramDumps,
  PAGE_SIZE,
  type PageDiff,
  type RamComparison,
  type RamDumps,
} from './ram-compare.js';
export {
  RAMCHECK_PAGE_SIZE,
  RAMCHECK_START_LINE,
  RAMCHECK_PASS_LINE,
  RAMCHECK_BAD_LINE,
  RAMCHECK_FAIL_LINE,
  ramcheckWorkload,
  ramcheckLog,
  encodeRamcheckPage,
  findRamcheckPages,
  sharedRamArgs,
  shmTempDir,
  type RamcheckFail,
  type RamcheckLog,
  type RamcheckPageAt,
} from './ramcheck.js';
export {
  pingFlood,
  holdEchoConnection,
  masterOf,
  waitForPing,
  type PingFlood,
  type EchoConnection,
} from './net-probes.js';
export { throttledDisk, type ThrottledDisk } from './throttled-disk.js';
