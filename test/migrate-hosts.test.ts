// End to end: xl migrate between two "hosts" (network namespaces joined by veth) over real ssh.
// Host B runs its own sshd (helpers/sshd.ts: own host key, authorized key and port, stopped
// afterwards); its sessions find `xl` on PATH with B's state dir in XL_STATE_DIR. The guest's disk
// is one file both hosts see (no -q).
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { execa } from 'execa';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import { cleanupAfterEach, createHostPair, startSshd, waitForSsh } from './helpers/index.js';
import { XL, continuous, guestConfig, waitForBeatAbove, xlHost } from './xl-rig.js';

cleanupAfterEach();

describe('xl migrate between two network-namespace hosts over ssh (real QEMU)', () => {
  for (const transport of ['tunnel', 'direct'] as const) {
    it(`moves the guest to B (${transport === 'direct' ? 'RAM QEMU to QEMU over TCP' : 'RAM through the ssh pipe'}): heartbeat continues there, nothing left on A`, async () => {
      const pair = await createHostPair();
      const a = xlHost('mig-a-');
      const b = xlHost('mig-b-');
      const disk = path.join(a.dir, 'shared.raw');
      await execa('truncate', ['-s', '16M', disk]);
      // The guest runs on host A (its QEMU inside A's namespace), as it would on a real host.
      const cfg = await guestConfig(a.dir, 'hop1', { disk: `[ "${disk},raw,xvda,rw" ]` });
      const created = await pair.a.exec(['node', XL, '--state-dir', a.stateDir, 'create', cfg], {
        reject: false,
      });
      expect(created.exitCode, String(created.stderr)).toBe(0);
      const beat = (await waitForBeatAbove(a, 'hop1', 2)).at(-1)!;
      const [source] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];

      const sshd = await startSshd(pair.b, { env: { XL_STATE_DIR: b.stateDir }, commands: { xl: XL } });
      await waitForSsh(pair.a, sshd, pair.b.address);
      const [file, ...args] = pair.a.wrap([
        process.execPath,
        XL,
        '--state-dir',
        a.stateDir,
        'migrate',
        '--json',
        '--transport',
        transport,
        '-s',
        sshd.sshCommand,
        'hop1',
        pair.b.address,
      ]);
      const r = await execa(file!, args, { reject: false, stdin: 'ignore', timeout: 180_000 });
      expect(r.exitCode, String(r.stderr)).toBe(0);
      const events = String(r.stdout)
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(events.at(-1)).toMatchObject({ result: 'ok', domain: 'hop1', host: pair.b.address });
      // Direct: B's QEMU listened on the address A reached it at, and A's QEMU connected there.
      const endpoint = events.find((e) => e.event === 'ram-endpoint');
      if (transport === 'direct') expect(endpoint).toMatchObject({ transport: 'tcp', host: pair.b.address });
      else expect(endpoint).toBeUndefined();

      expect(isProcessAlive(source!.qemu!.pid)).toBe(false);
      expect(JSON.parse((await a.xl('list', '--json')).stdout)).toEqual([]);
      const [moved] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
      expect(moved).toMatchObject({ name: 'hop1', status: 'running' });
      const beats = await waitForBeatAbove(b, 'hop1', beat + 5);
      expect(beats[0]).toBeGreaterThan(beat);
      expect(continuous(beats)).toBe(true);
    });
  }
});
