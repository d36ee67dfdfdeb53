// End to end: `xl migrate -q` between two "hosts" (network namespaces joined by veth), over
// real ssh to an sshd on host B, each host with its own state dir and disk dir: the tunnel
// (disk traffic inside the ssh pipe) and direct (NBD over TCP to B's address) transports,
// with a raw and a qcow2 disk, the guest writing its pattern throughout; both sides' final RAM
// is compared page by page.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import {
  cleanupAfterEach,
  createHostPair,
  type HostPair,
  ramDumps,
  startSshd,
  verifyDiskImage,
  waitForSsh,
} from './helpers/index.js';
import { continuous, waitForBeatAbove, XL } from './xl-rig.js';
import { bootWriter, guestVerify, probeNbdAsNobody, qPair } from './migrate-q-rig.js';

cleanupAfterEach();

/** Every TLS key dir (nbd-tls, migrate-tls) left in a state dir's domain dirs. */
function tlsDirs(stateDir: string): string[] {
  const root = path.join(stateDir, 'domains');
  if (!existsSync(root)) return [];
  return readdirSync(root).flatMap((id) =>
    ['nbd-tls', 'migrate-tls'].map((d) => path.join(root, id, d)).filter((d) => existsSync(d)),
  );
}

/**
 * While the receiver exports the target disks over TCP (from the sender's `disk exports:`
 * line until the migration goes on): nobody on host B, without the key or with a wrong one,
 * can neither write nor read the export; the right key (a read-only control, before and after)
 * proves it was up all along. Returns the key the receiver made, read from its 0700/0600 file.
 */
async function probeWhileExported(
  pair: HostPair,
  stateDir: string,
  stderr: NodeJS.ReadableStream,
): Promise<{ key: string }> {
  const line = await new Promise<RegExpExecArray>((resolve, reject) => {
    let text = '';
    stderr.on('data', (c: Buffer) => {
      text += c.toString();
      const m = /disk exports: NBD over TCP at ([0-9.]+):(\d+)/.exec(text);
      if (m) resolve(m);
    });
    stderr.on('end', () => reject(new Error(`no disk exports line in: ${text}`)));
  });
  const at = { address: line[1]!, port: Number(line[2]), exportName: 'xlkit-xvda' };
  const [dir] = tlsDirs(stateDir);
  expect(dir).toBeDefined();
  expect(statSync(dir!).mode & 0o777).toBe(0o700);
  const file = path.join(dir!, 'keys.psk');
  expect(statSync(file).mode & 0o777).toBe(0o600);
  const key = /^xlkit:([0-9a-f]{64})\n$/.exec(readFileSync(file, 'utf8'))?.[1];
  expect(key).toBeDefined();
  const wrong = randomBytes(32).toString('hex');
  const control = () => probeNbdAsNobody(pair.b, at, 'read 0 4k', key);
  expect(await control()).toMatchObject({ ok: true });
  const attempts = {
    plainWrite: await probeNbdAsNobody(pair.b, at, 'write -P 0x66 0 64k'),
    plainRead: await probeNbdAsNobody(pair.b, at, 'read 0 4k'),
    wrongKeyWrite: await probeNbdAsNobody(pair.b, at, 'write -P 0x66 0 64k', wrong),
    wrongKeyRead: await probeNbdAsNobody(pair.b, at, 'read 0 4k', wrong),
  };
  for (const [what, p] of Object.entries(attempts)) expect(p.ok, `${what}: ${p.output}`).toBe(false);
  expect(attempts.plainWrite.output).toMatch(/TLS negotiation required/);
  expect(attempts.wrongKeyWrite.output).toMatch(/TLS handshake failed/);
  expect(await control()).toMatchObject({ ok: true });
  return { key: key! };
}

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
      // Direct: the bulk copy is slowed (2 MiB/s a disk) so the receiver's TLS-guarded export
      // stays up while nobody on host B tries it; the guest's writes go to both sides at once
      // (--sync-writes), as a background copy this slow would never catch up with them.
      const probing = transport === 'direct';
      const [file, ...argv] = pair.a.wrap([
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
        ...(probing ? ['--sync-writes'] : []),
        '-s',
        sshd.sshCommand,
        'mqh',
        pair.b.address,
      ]);
      const run = execa(file!, argv, {
        reject: false,
        timeout: 240_000,
        env: probing
          ? { ...dumps.env, XLKIT_FAULT: `${dumps.env.XLKIT_FAULT},mirror-speed:2097152` }
          : dumps.env,
      });
      const probed = probing ? probeWhileExported(pair, b.stateDir, run.stderr) : undefined;
      probed?.catch(() => undefined);
      const r = await run;
      expect(r.exitCode, String(r.stderr)).toBe(0);
      if (probed !== undefined) {
        const { key } = await probed;
        // The key never reaches the user's terminal; its files are gone from both hosts.
        expect(`${String(r.stdout)}${String(r.stderr)}`).not.toContain(key);
        expect(tlsDirs(b.stateDir)).toEqual([]);
        expect(tlsDirs(a.stateDir)).toEqual([]);
      }
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
