/**
 * `xl migrate -q`'s disk mirror as a participant of the receiving side. It joins when the
 * sender requires `disk-mirror`: DISK_PLAN read and every refusal made before anything
 * changes, the targets created (recorded with the domain first), NBD exports and
 * DISK_EXPORTS once QEMU is up, the mirror phase, the NBD server stopped before the domain
 * can resume, and every created target removed on a rollback. The work is mirror/receiver-side.ts.
 */
import { Feature } from '../link/protocol.js';
import { MirrorReceiver } from '../mirror/receiver-side.js';
import type { DomainStore } from '../store/domain-store.js';
import type { JoinReceiver, ReceiverParticipant, ReceiverSession } from './receiver-session.js';

/** `targetRoot`: where this host lets a sender's disks be written (mirror/target-root.ts). */
export function joinMirrorReceiver(
  store: DomainStore,
  env: NodeJS.ProcessEnv,
  targetRoot: string,
): JoinReceiver {
  return async (s): Promise<ReceiverParticipant | undefined> => {
    const link = s.link;
    if (link === undefined || s.config === undefined || !link.peer.requires.includes(Feature.DISK_MIRROR))
      return undefined;
    const m = await MirrorReceiver.prepare(link.forward, s.config, targetRoot);
    let finished = false;
    const finish = async (session: ReceiverSession): Promise<void> => {
      if (finished) return;
      if (session.dest.qmp === undefined) throw new Error('mirror: the incoming QEMU is not connected');
      await m.finish(session.dest.qmp);
      finished = true;
    };
    return {
      // The host check skips the mirrored disks (their targets do not exist yet); QEMU starts on the targets.
      adjust: (info, config) => ({
        check: m.withoutMirrored(info, config),
        config: { ...config, disks: m.config.disks },
      }),
      created: m.planned,
      prepare: () => m.createTargets(),
      async started(session) {
        const record = session.dest.record;
        if (record === undefined) throw new Error('mirror: the incoming domain does not exist');
        await m.exportDisks(store, record, link, env);
      },
      mirror: () => m.phaseTwo(link.forward, link.writer),
      // The NBD server stops before the guest runs here: at POSTCOPY_GO, else after the RAM.
      beforeRun: finish,
      afterRam: finish,
      commit: () => m.commit(),
      rollback: () => m.abort(),
    };
  };
}
