/**
 * Test-only fault hooks for `xl migrate -q`, read from XLKIT_FAULT (comma-separated, next to
 * the migrate flow's own). Never set in normal use.
 *
 *   mirror-speed:BYTES   limit every disk mirror to BYTES/s (stretches phase 2 for a test)
 *   nbd-drop:BYTES       cut each tunnelled NBD connection after BYTES came from QEMU
 *   mirror-stall-ms:MS   the window of the not-converging check
 */
export interface MirrorFaults {
  mirrorSpeed?: number;
  nbdDropAfter?: number;
  stallWindowMs?: number;
}

export function parseMirrorFaults(env: NodeJS.ProcessEnv): MirrorFaults {
  const out: MirrorFaults = {};
  for (const item of (env.XLKIT_FAULT ?? '').split(',')) {
    const [name, arg = ''] = item.split(':');
    if (!/^[1-9][0-9]{0,12}$/.test(arg)) continue;
    if (name === 'mirror-speed') out.mirrorSpeed = Number(arg);
    if (name === 'nbd-drop') out.nbdDropAfter = Number(arg);
    if (name === 'mirror-stall-ms') out.stallWindowMs = Number(arg);
  }
  return out;
}
