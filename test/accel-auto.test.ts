// End to end: accel "auto" (the default) probes KVM once per host and QEMU, says which
// accelerator it chose and why, and a dry run never probes.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { XL, guestConfig, lastBeatAbove, xlHost, type Run } from './xl-rig.js';

describe('accel auto (real QEMU)', () => {
  it('chooses an accelerator a probe guest proved, says why, and caches it', async () => {
    const host = xlHost('xl-accel-');
    // No XL_ACCEL: this is about xl's own choice.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'XL_ACCEL'));
    const xl = async (...args: string[]): Promise<Run> => {
      const r = await execa('node', [XL, '--state-dir', host.stateDir, ...args], {
        env,
        extendEnv: false,
        reject: false,
        stdin: 'ignore',
        timeout: 120_000,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const cfg = await guestConfig(host.dir, 'auto1', { accel: '"auto"' });
    const cache = path.join(host.stateDir, 'cache', 'kvm-probe.json');

    const dry = await xl('create', '-n', cfg);
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(dry.stderr).toContain('accel: auto (not probed in a dry run)');
    expect((JSON.parse(dry.stdout) as { qemu: string[] }).qemu).toContain('<auto: not probed in a dry run>');
    expect(existsSync(cache)).toBe(false);

    const created = await xl('create', cfg);
    expect(created.exitCode, created.stderr).toBe(0);
    const line = /^accel: (tcg|kvm) \((.+)\)$/m.exec(created.stderr);
    expect(line, created.stderr).not.toBeNull();
    const [, chosen, why] = line as unknown as [string, string, string];
    console.log(`xl create chose: ${line?.[0]}`);
    if (!existsSync('/dev/kvm')) expect([chosen, why]).toEqual(['tcg', '/dev/kvm is missing']);
    if (chosen === 'tcg')
      expect(why).toMatch(/\/dev\/kvm is|probe guest did not boot under KVM|could not run a probe guest/);
    else expect(why).toMatch(/^a probe guest booted under KVM in \d+ ms$/);
    const list = await xl('list', '--json', 'auto1');
    const [view] = JSON.parse(list.stdout) as { qemu: { argv: string[] } }[];
    const argv = view!.qemu.argv;
    expect(argv[argv.indexOf('-accel') + 1]).toBe(chosen);
    // Whatever was chosen runs the guest.
    expect(await lastBeatAbove(host, 'auto1', 0)).toBeGreaterThan(0);
    expect(existsSync(cache)).toBe(existsSync('/dev/kvm'));

    // Probed once: a second domain, and a dry run, use the cached verdict.
    const again = await xl('create', '-n', cfg, 'name=auto2');
    const cached = existsSync('/dev/kvm') ? '; cached' : '';
    expect(again.stderr).toContain(`accel: ${chosen} (${why}${cached})`);
    const info = await xl('info');
    expect(info.stdout).toMatch(/^default_accel\s+: auto$/m);
    expect((await xl('destroy', 'auto1')).exitCode).toBe(0);
  }, 300_000);
});
