/** The native addon (src/*.c, built by node-gyp when npm installs the workspace), or undefined where it did not build. */
import { createRequire } from 'node:module';

export interface Addon {
  keepFreedMemory(mmapThreshold: number): boolean;
  /** [the send buffer as the kernel reports it, whether SO_SNDBUFFORCE was taken]; throws with an errno `code`. */
  setSendBuffer(fd: number, bytes: number): [number, boolean];
  /** Fills `buffer` from `fd` on a pool thread (src/read-chunk.c): [bytes, eof]; rejects with an errno `code`. */
  readChunk(fd: number, buffer: Uint8Array, idleMs: number, waitMs: number): Promise<[number, boolean]>;
  /** A close-on-exec duplicate of `fd`; throws with an errno `code`. */
  dupFd(fd: number): number;
  closeFd(fd: number): void;
}

let loaded: { addon: Addon | undefined } | undefined;

export function addon(): Addon | undefined {
  if (loaded === undefined) {
    try {
      loaded = { addon: createRequire(import.meta.url)('@xlkit/os-tune/addon') as Addon };
    } catch {
      loaded = { addon: undefined };
    }
  }
  return loaded.addon;
}
