/**
 * Test-only fault hooks (and one probe, ram-dump), read from XLKIT_FAULT (comma-separated) by
 * the command layer and applied by instruments.ts, from outside the migration flows. Never set
 * in normal use.
 *
 *   corrupt-ram-chunk:N     sender: flip one payload byte of the N-th RAM_CHUNK (from 1) in transit,
 *                           after its crc was computed
 *   receiver-stall:phase1   receiver: after starting the incoming QEMU, stall before PHASE_READY
 *                           (so a test can kill it at a known point)
 *   receiver-stall:targets  receiver -q: after creating the disk targets, stall before QEMU starts
 *   receiver-stall:postcopy receiver: at POSTCOPY_GO, stall before taking the domain over
 *   sender-stall:before-go  sender: after the receiver said ready, stall before GO until
 *                           interrupted (the last moment a failure still rolls back)
 *   mirror-speed:BYTES      sender -q: limit every disk mirror to BYTES/s (stretches phase 2)
 *   nbd-drop:BYTES          sender -q: cut each NBD connection QEMU's mirror makes over a unix
 *                           socket (the tunnel's, or a same-host direct export) after BYTES
 *   mirror-stall-ms:MS      sender -q: the window of the not-converging check
 *   receiver-lacks:FEATURE  receiver: leave FEATURE out of its hello, as an older xlkit would
 *   upgrade-kill:started    xl upgrade: SIGKILL the new QEMU as soon as it started (before the
 *                           switch-over)
 *   upgrade-kill:ran        xl upgrade: SIGKILL the new QEMU right after its vCPUs were started
 *   upgrade-barrier:N@DIR   sender: after the receiver said ready, before GO, write DIR/<domain>
 *                           and wait until DIR holds N files (so N upgrades are proven to be
 *                           in flight at once; a lock one held across its migration would hang)
 *   ram-dump:DIR            both: write the guest's final RAM to DIR/source.ram and
 *                           DIR/destination.ram (ram-dump.ts), for a test to compare
 */

export interface Faults {
  corruptRamChunk?: number;
  receiverStall?: 'phase1' | 'targets' | 'postcopy';
  senderStall?: 'before-go';
  mirrorSpeed?: number;
  nbdDropAfter?: number;
  mirrorStallMs?: number;
  receiverLacks?: string;
  ramDumpDir?: string;
  upgradeKill?: 'started' | 'ran';
  barrier?: { count: number; dir: string };
}

const BYTES_OR_MS = /^[1-9][0-9]{0,12}$/;

export function parseFaults(env: NodeJS.ProcessEnv): Faults {
  const out: Faults = {};
  for (const item of (env.XLKIT_FAULT ?? '').split(',')) {
    const [name, arg] = item.split(':');
    if (name === 'corrupt-ram-chunk' && /^[1-9][0-9]*$/.test(arg ?? '')) out.corruptRamChunk = Number(arg);
    if (name === 'receiver-stall' && (arg === 'phase1' || arg === 'targets' || arg === 'postcopy'))
      out.receiverStall = arg;
    if (name === 'sender-stall' && arg === 'before-go') out.senderStall = 'before-go';
    if (name === 'receiver-lacks' && /^[a-z][a-z0-9-]{0,63}$/.test(arg ?? '')) out.receiverLacks = arg;
    const barrier =
      name === 'upgrade-barrier' ? /^([1-9])@(\/[A-Za-z0-9._/-]{1,200})$/.exec(arg ?? '') : null;
    if (barrier) out.barrier = { count: Number(barrier[1]), dir: barrier[2]! };
    if (name === 'upgrade-kill' && (arg === 'started' || arg === 'ran')) out.upgradeKill = arg;
    if (name === 'ram-dump' && /^\/[A-Za-z0-9._/-]{1,200}$/.test(arg ?? '')) out.ramDumpDir = arg;
    if (!BYTES_OR_MS.test(arg ?? '')) continue;
    if (name === 'mirror-speed') out.mirrorSpeed = Number(arg);
    if (name === 'nbd-drop') out.nbdDropAfter = Number(arg);
    if (name === 'mirror-stall-ms') out.mirrorStallMs = Number(arg);
  }
  return out;
}
