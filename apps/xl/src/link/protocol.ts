/**
 * The migrate pipe protocol (as xl.h for xl): xl's fixed handshake strings, and xlkit's
 * protocol version and features, negotiated right after the banner. PROTOCOL.md describes
 * the whole exchange byte by byte.
 */
import type { MigrationHello } from '@xlkit/stream';
import { ownHostIdentity } from '../host/host-identity.js';

/** R→S first: 54 bytes, no NUL. */
export const BANNER = Buffer.from('xl migration receiver ready, send binary domain data.\n', 'latin1');
/** R→S after the whole stream arrived and QEMU completed: text + NUL. */
export const READY = Buffer.from('domain received, ready to unpause\0', 'latin1');
/** S→R, the point of no return: text + NUL. */
export const GO = Buffer.from('domain is yours, you are cleared to unpause\0', 'latin1');
/** R→S after GO: text + NUL, then one status byte. */
export const REPORT = Buffer.from('my copy unpause results are as follows\0', 'latin1');

/** Status byte after REPORT. */
export const ReportStatus = { RUNNING: 0, FAILED: 1 } as const;

/** The migration protocol versions this xl speaks. */
export const PROTOCOL_MIN = 1;
export const PROTOCOL_MAX = 1;

/**
 * Features: what one side can do. A migration lists in `requires` what it needs the peer to
 * have; phase 2 adds e.g. 'disk-mirror' and 'tunnel' (with credit-based channels).
 */
export const Feature = {
  /** Phase 3: QEMU's migration stream as RAM_CHUNK records, verified end to end. */
  RAM_STREAM: 'ram-stream',
  /** The receiver honours MIGRATION_ERROR from the sender inside the RAM stream. */
  ABORT: 'abort',
  /** Phase 2 of `xl migrate -q`: disk plan, targets, NBD exports (apps/xl/src/mirror). */
  DISK_MIRROR: 'disk-mirror',
  /** NBD channels multiplexed over the pipe, with credit flow control (apps/xl/src/tunnel). */
  TUNNEL: 'tunnel',
  /** Phase 3 RAM is flow controlled by the receiver's RAM_CREDIT grants (ram/ram-credit.ts). */
  RAM_CREDIT: 'ram-credit',
  /** Phase 3 QEMU to QEMU: the receiver's QEMU listens, RAM_ENDPOINT says where; no RAM in the pipe. */
  DIRECT_RAM: 'direct-ram',
  /** Post-copy: POSTCOPY_GO, postcopy-ram on the receiver's QEMU, and (relayed) its return path as RAM_RETURN. */
  POSTCOPY: 'postcopy',
  /** `xl migrate --resume`: phase 3 again for a post-copy paused by a broken link (migrate-recover / resume). */
  POSTCOPY_RESUME: 'postcopy-resume',
  /** The receiver starts QEMU with DOMAIN_INFO's exact memoryBytes (the TCG RAM tail, qemu/guest-ram.ts). */
  EXACT_RAM: 'exact-ram',
  /**
   * The direct transport's TCP ports take only TLS-PSK with a per-migration key: MIGRATION_KEY,
   * receiver to sender, right after the hellos (handshake.ts; qemu/tls-psk.ts).
   */
  DIRECT_TLS: 'direct-tls',
  /**
   * TUNNEL_DATA carries the crc32 of its payload, checked on decode (libs/stream SPEC.md 4.8).
   * Goes with `tunnel`: a sender requires both, and a receiver refuses a tunnel without it.
   */
  TUNNEL_CRC: 'tunnel-crc',
} as const;

/**
 * What phase 3 needs of the receiver for this guest: a guest with a RAM tail needs one that
 * sizes its QEMU from memoryBytes, or QEMU's incoming stream would fail on the RAM block's
 * length only after the whole transfer (and a `-q` disk mirror) had run.
 */
export function ramRequires(info: { memoryBytes?: number }): string[] {
  return [Feature.RAM_STREAM, ...(info.memoryBytes === undefined ? [] : [Feature.EXACT_RAM])];
}

export const OWN_FEATURES: readonly string[] = Object.values(Feature);

export const SOFTWARE = 'xlkit xl';

export function makeHello(
  requires: readonly string[],
  features: readonly string[] = OWN_FEATURES,
): MigrationHello {
  return {
    minVersion: PROTOCOL_MIN,
    maxVersion: PROTOCOL_MAX,
    features: [...features],
    requires: [...requires],
    software: SOFTWARE,
    ...ownHostIdentity(),
  };
}

export interface Agreement {
  version: number;
  /** Features both sides have. */
  features: string[];
}

export type Negotiation = { ok: true; agreement: Agreement } | { ok: false; reason: string };

/**
 * What two hellos agree on: the highest version both speak, the features both have. Fails
 * when the version ranges do not overlap or one side requires a feature the other lacks.
 * Symmetric, so both ends reach the same verdict from the same two hellos.
 */
export function negotiate(local: MigrationHello, remote: MigrationHello, remoteName: string): Negotiation {
  const version = Math.min(local.maxVersion, remote.maxVersion);
  if (version < Math.max(local.minVersion, remote.minVersion)) {
    return {
      ok: false,
      reason: `protocol version mismatch: this xl speaks ${range(local)}, the ${remoteName} (${remote.software || 'unknown software'}) speaks ${range(remote)}`,
    };
  }
  const missingRemote = local.requires.filter((f) => !remote.features.includes(f));
  if (missingRemote.length > 0) {
    return {
      ok: false,
      reason: `the ${remoteName} lacks required feature(s) ${missingRemote.map((f) => `'${f}'`).join(', ')}`,
    };
  }
  const missingLocal = remote.requires.filter((f) => !local.features.includes(f));
  if (missingLocal.length > 0) {
    return {
      ok: false,
      reason: `the ${remoteName} requires feature(s) this xl lacks: ${missingLocal.map((f) => `'${f}'`).join(', ')}`,
    };
  }
  // A tunnel without crcs (an older xlkit) would fail on its first TUNNEL_DATA, mid-mirror:
  // refuse it here, from whichever end is the newer one.
  const crcless = [local, remote].find(
    (h) => h.requires.includes(Feature.TUNNEL) && !h.features.includes(Feature.TUNNEL_CRC),
  );
  if (crcless !== undefined) {
    return {
      ok: false,
      reason: `${crcless === local ? 'this xl' : `the ${remoteName}`} asks for a tunnel without checksums (it lacks '${Feature.TUNNEL_CRC}'): upgrade it`,
    };
  }
  return {
    ok: true,
    agreement: { version, features: local.features.filter((f) => remote.features.includes(f)) },
  };
}

function range(h: MigrationHello): string {
  return h.minVersion === h.maxVersion
    ? `version ${h.minVersion}`
    : `versions ${h.minVersion}..${h.maxVersion}`;
}

/** Printable form of up to `max` bytes of unexpected input. */
export function showBytes(b: Buffer, max = 40): string {
  const s = JSON.stringify(b.subarray(0, max).toString('latin1'));
  return b.length > max ? `${s}...` : s;
}
