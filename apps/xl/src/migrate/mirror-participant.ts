/**
 * `xl migrate -q`'s disk mirror as a participant of the sending side: the plan when it joins
 * (printed before anything starts), DISK_PLAN in bootstrap, DISK_EXPORTS taken from the back
 * channel, the mirror phase, the mirrors finished at pre-switchover, the tunnel closed after
 * the RAM, and everything undone on a rollback. The work itself is mirror/sender-side.ts.
 */
import { MirrorSender, type MirrorFlags } from '../mirror/sender-side.js';
import type { JoinSender, SenderParticipant, SenderSession } from './sender-session.js';

export interface MirrorTuning {
  /** The not-converging window (ms); default 60 s. */
  stallWindowMs?: number;
}

export function joinMirror(flags: MirrorFlags, tuning: MirrorTuning = {}): JoinSender {
  return async (s: SenderSession): Promise<SenderParticipant> => {
    const m = await MirrorSender.plan(s.config.disks, s.info?.disks ?? [], flags);
    for (const line of m.lines) s.settings.stderr.write(`${line}\n`);
    s.stages.event('disk-plan', { plan: m.built.plan, skipped: m.built.skipped });
    const link = (session: SenderSession) => {
      if (session.link === undefined) throw new Error('mirror: no link yet');
      return session.link;
    };
    return {
      requires: m.requires,
      bootstrap: (session) => m.writePlan(link(session)),
      takeBackRecord: m.takeBackRecord,
      bootstrapped(session) {
        if (m.exportsLine === undefined) return;
        session.settings.stderr.write(`${m.exportsLine}\n`);
        session.stages.event('disk-exports', { exports: m.exports });
      },
      async mirror(session) {
        const qmp = session.source.qmp;
        if (qmp === undefined) throw new Error('mirror: the source QEMU is not open');
        const progress = session.settings.progress;
        await m.phaseTwo({
          link: link(session),
          qmp,
          tunnelSocket: session.source.sockets.nbd,
          tlsDir: session.source.nbdTlsDir,
          signal: session.failure.signal,
          ...tuning,
          onProgress: (disks) => {
            const bytes = disks.reduce((n, d) => n + d.offset, 0);
            const total = disks.reduce((n, d) => n + d.len, 0);
            const note = disks
              .map(
                (d) =>
                  `${d.id} ${d.len > 0 ? Math.floor((100 * d.offset) / d.len) : 0}%${d.ready ? ' ready' : ''}`,
              )
              .join(', ');
            progress.update({ bytes, total, note, fields: { disks } });
          },
        });
        const t = m.tunnelStats;
        if (t !== undefined) session.stages.event('tunnel', { ...t });
      },
      async preSwitchover(session) {
        // Finish the mirrors while the vCPUs are stopped, before QEMU inactivates the disks.
        if (session.source.qmp === undefined) throw new Error('mirror: the source QEMU is not open');
        await m.atPreSwitchover(session.source.qmp);
      },
      afterRam: () => m.afterRam(),
      rollback: (session) => m.abort(session.source.qmp),
    };
  };
}
