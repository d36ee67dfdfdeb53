/**
 * @xlkit/os-tune: the OS settings xl's data paths need and Node does not expose, through one
 * small N-API addon. Each is a no-op where the addon did not build.
 */
export { keepFreedMemory, MMAP_THRESHOLD, type MallocTuning } from './keep-freed-memory.js';
export { setSendBuffer, type SendBuffer } from './send-buffer.js';
export { ChunkReader, type ChunkRead } from './chunk-reader.js';
export { OsTuneError, type OsTuneErrorCode, type OsTuneErrorDetails } from './errors.js';
