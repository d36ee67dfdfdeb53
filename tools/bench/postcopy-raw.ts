/** The post-copy bench's baseline: the same QMP post-copy sequence QEMU to QEMU, no xl. */
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import {
  QmpClient,
  cont,
  eventTimeMs,
  finalMigrationFigures,
  followMigration,
  migrate,
  migrateIncoming,
  migrateSetCapabilities,
  migrateSetParameters,
  migrateStartPostcopy,
  queryMigrate,
  type MigrationProgress,
} from '@xlkit/qmp';
import { qemuEnv } from '@xlkit/xl';
import { xl } from './xl-cli.js';
import { BANDWIDTH, POLL_MS, TIMEOUT_MS, boot, domainDir, type Result } from './postcopy-rig.js';

interface BlocktimeInfo {
  'postcopy-blocktime'?: number;
  'postcopy-vcpu-blocktime'?: number[];
}

export async function raw(a: string, dir: string, cfg: string): Promise<Result> {
  const src = await boot(a, cfg);
  const srcDir = domainDir(a, src.id);
  const dst = path.join(dir, 'raw');
  rmSync(dst, { recursive: true, force: true });
  mkdirSync(dst, { recursive: true });
  const sock = path.join(dst, 'migrate.sock');
  const args = src.qemu.argv.map((x) => x.split(srcDir).join(dst));
  let dstPid: number | undefined;
  let d: QmpClient | undefined;
  let s: QmpClient | undefined;
  try {
    const t0 = performance.now();
    // The argv has -daemonize: this returns once QEMU is up and listening on its QMP socket.
    await execa(src.qemu.binary, [...args, '-S', '-incoming', 'defer'], {
      stdio: 'ignore',
      env: qemuEnv(),
      extendEnv: false,
    });
    dstPid = Number(readFileSync(path.join(dst, 'qemu.pid'), 'utf8').trim());
    d = await QmpClient.connect(path.join(dst, 'qmp.sock'));
    s = await QmpClient.connect(path.join(srcDir, 'qmp.sock'));
    const [dq, sq] = [d, s];
    await migrateSetCapabilities(dq, [
      { capability: 'events', state: true },
      { capability: 'late-block-activate', state: true },
      { capability: 'postcopy-ram', state: true },
      { capability: 'postcopy-blocktime', state: true },
    ]);
    await migrateIncoming(dq, { uri: `unix:${sock}` });
    const incoming = followMigration(dq, { timeoutMs: TIMEOUT_MS });
    incoming.catch(() => undefined);
    const resume = dq.waitForEvent('RESUME');
    const stop = sq.waitForEvent('STOP');
    await migrateSetParameters(sq, { 'max-bandwidth': BANDWIDTH, 'max-postcopy-bandwidth': BANDWIDTH });
    await migrateSetCapabilities(sq, [
      { capability: 'events', state: true },
      { capability: 'postcopy-ram', state: true },
    ]);
    let switchPass: number | undefined;
    let asked: Promise<void> | undefined;
    let resumed: Promise<number> | undefined;
    const onProgress = (m: MigrationProgress) => {
      if (m.status === 'postcopy-active' && resumed === undefined) {
        resumed = cont(dq).then(() => Date.now());
        resumed.catch(() => undefined);
      }
      if (asked === undefined && m.status === 'active' && m.pass > 1) {
        switchPass = m.pass;
        asked = migrateStartPostcopy(sq);
        asked.catch(() => undefined);
      }
    };
    await migrate(sq, { uri: `unix:${sock}` });
    const done = await followMigration(sq, { onProgress, pollMs: POLL_MS, timeoutMs: TIMEOUT_MS });
    await asked;
    if (resumed === undefined) throw new Error('the raw migration never reported postcopy-active');
    const resumedAt = await resumed;
    const dDone = await incoming;
    const seconds = (performance.now() - t0) / 1000;
    const stoppedAt = eventTimeMs(await stop);
    const resumeAt = eventTimeMs(await resume);
    const fin = await finalMigrationFigures(sq, done);
    const bt = (await queryMigrate(dq)) as BlocktimeInfo;
    const ram = fin.info.ram;
    return {
      seconds,
      pauseMs: Math.round(resumedAt - stoppedAt),
      resumeEventMs: Math.round(resumeAt - stoppedAt),
      ...(fin.downtimeMs === undefined ? {} : { downtimeMs: fin.downtimeMs }),
      ...(bt['postcopy-blocktime'] === undefined ? {} : { blocktimeMs: bt['postcopy-blocktime'] }),
      ...(bt['postcopy-vcpu-blocktime'] === undefined
        ? {}
        : { vcpuBlocktimeMs: bt['postcopy-vcpu-blocktime'] }),
      ...(ram === undefined
        ? {}
        : {
            requests: ram['postcopy-requests'],
            ...(ram['postcopy-bytes'] === undefined ? {} : { postcopyBytes: ram['postcopy-bytes'] }),
            ...(ram['precopy-bytes'] === undefined ? {} : { precopyBytes: ram['precopy-bytes'] }),
          }),
      ...(switchPass === undefined ? {} : { switchPass }),
      note: `dest ${dDone.status}`,
    };
  } finally {
    await s?.close().catch(() => undefined);
    await d?.close().catch(() => undefined);
    for (const pid of [dstPid, src.qemu.pid]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Gone.
      }
    }
    // xl notices its QEMU is gone and drops the record, so the next boot can take the name.
    await xl(a, 'list').catch(() => undefined);
    rmSync(dst, { recursive: true, force: true });
  }
}
