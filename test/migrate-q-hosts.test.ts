// End to end: `xl migrate -q` between two "hosts" (network namespaces joined by veth), over
// real ssh to an sshd on host B, each host with its own state dir and disk dir: the tunnel
// (disk traffic inside the ssh pipe) and direct (NBD over TCP to B's address) transports,
// with a raw and a qcow2 disk, the guest writing its pattern throughout; both sides' final RAM
// is compared page by page.
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import os from 'node:os';
import { execa } from 'execa';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import {
  cleanupAfterEach,
  createHostPair,
  ramDumps,
  startSshd,
  verifyDiskImage,
  waitForSsh,
} from './helpers/index.js';
import { continuous, waitForBeatAbove, XL } from './xl-rig.js';
import { bootWriter, guestVerify, qPair } from './migrate-q-rig.js';

cleanupAfterEach();

describe('xl migrate -q between two network-namespace hosts over ssh', { timeout: 300_000 }, () => {
  const cases = [
    { transport: 'tunnel', postcopy: false },
    { transport: 'direct', postcopy: false },
    { transport: 'tunnel', postcopy: true },
  ] as const;
  for (const { transport, postcopy } of cases) {
    const how = `${transport}${postcopy ? ', RAM by post-copy over an 8 MiB/s cap' : ''}`;
    it(`${how}: raw + qcow2 disks arrive on host B, the guest keeps running and verifies its disk`, async () => {
      const pair = await createHostPair();
      const { a, b, targetDir } = await qPair('mqh');
      // Both hosts dump the guest's final RAM (the test-only ram-dump hook; B's xl gets it from its sshd).
      const dumps = ramDumps('mqh-ram-');
      const sshd = await startSshd(pair.b, {
        env: { XL_STATE_DIR: b.stateDir, ...dumps.env },
        commands: { xl: XL },
      });
      await waitForSsh(pair.a, sshd, pair.b.address);
      // Host A's QEMU lives in A's namespace (the direct transport connects from there to B).
      const src = await bootWriter(
        a,
        'mqh',
        [
          { vdev: 'xvda', format: 'raw', sizeMiB: 64 },
          { vdev: 'xvdb', format: 'qcow2', sizeMiB: 32 },
        ],
        24,
        async (paths) => {
          await execa('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x3c 2M 6M', paths[1]!]);
        },
        pair.a,
        // Post-copy: a RAM dirtier the capped link cannot keep up with (the RAM then differs by design).
        postcopy ? 'xlkit.dirty=16 xlkit.dirtymb=32' : '',
      );
      const r = await pair.a.exec(
        [
          'node',
          XL,
          '--state-dir',
          a.stateDir,
          'migrate',
          '-q',
          '--transport',
          transport,
          '--target-dir',
          targetDir,
          ...(postcopy ? ['--bandwidth', '8', '--postcopy', '--postcopy-after', '1', '--debug'] : []),
          '-s',
          sshd.sshCommand,
          'mqh',
          pair.b.address,
        ],
        { reject: false, timeout: 240_000, env: dumps.env },
      );
      expect(r.exitCode, String(r.stderr)).toBe(0);
      if (postcopy)
        expect(String(r.stderr)).toContain(
          'post-copy: the guest runs here while the rest of its RAM arrives',
        );
      else await dumps.expectIdentical();
      // B is a network namespace of this same kernel: xl says so, and how it reached it.
      expect(String(r.stdout)).toContain(
        `Migration successful: domain mqh now runs on this host (${os.hostname()}, reached as ${pair.b.address})`,
      );
      // Another network namespace is another host: direct NBD goes over TCP to B's address.
      if (transport === 'direct')
        expect(String(r.stderr)).toMatch(
          new RegExp(`disk exports: NBD over TCP at ${pair.b.address.replaceAll('.', '\\.')}:\\d+`),
        );
      expect(isProcessAlive(src.pid)).toBe(false);
      const [view] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
      expect(view).toMatchObject({ name: 'mqh', status: 'running' });
      expect(view!.config.disks.map((d) => d.target)).toEqual(
        src.disks.map((d) => path.join(targetDir, path.basename(d))),
      );

      const beats = await waitForBeatAbove(b, 'mqh', src.beat + 5);
      expect(continuous(beats.filter((x) => x > src.beat))).toBe(true);
      expect(await guestVerify(b, 'mqh')).toMatch(/^xlkit-disk-verify ok \d+$/);
      expect((await b.xl('pause', 'mqh')).exitCode).toBe(0);
      const [rawT, qcowT] = view!.config.disks.map((d) => d.target!);
      expect(await verifyDiskImage(rawT!, 24)).toMatchObject({ ok: true });
      const cmp = await execa(
        'qemu-img',
        ['compare', '-U', '-f', 'qcow2', '-F', 'qcow2', src.disks[1]!, qcowT!],
        { reject: false },
      );
      expect(cmp.exitCode, cmp.stdout + cmp.stderr).toBe(0);
    });
  }
});
