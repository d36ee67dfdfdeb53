// End to end: `@xlkit/xl` as a user installs it. `npm pack` of the workspace builds the bundle
// (prepack); the tarball installs with `npm install -g` into a temporary prefix without the
// registry (the package needs no other package), and that prefix's bin/xl runs a guest.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { guestConfig, lastBeatAbove, xlHost, type Run } from './xl-rig.js';
import { cleanupAfterEach, repoRoot, tempDir } from './helpers/index.js';

cleanupAfterEach();

describe('xl installed from a packed tarball', { timeout: 300_000 }, () => {
  it('npm install -g --prefix TMP TARBALL puts a working xl in TMP/bin: help, create, destroy', async () => {
    const work = tempDir('xl-install-');
    const packed = await execa('npm', ['pack', '-w', '@xlkit/xl', '--pack-destination', work, '--json'], {
      cwd: repoRoot,
    });
    const [{ filename, files }] = JSON.parse(packed.stdout) as [
      { filename: string; files: { path: string }[] },
    ];
    // The bundle, its code cache and the launcher, no sources.
    expect(files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['bin/xl.js', 'dist/xl.cjs', 'dist/xl.cjs.cache']),
    );
    expect(files.some((f) => f.path.startsWith('src/'))).toBe(false);

    const prefix = path.join(work, 'prefix');
    await execa(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--offline',
        '--no-audit',
        '--no-fund',
        path.join(work, filename),
      ],
      { cwd: work },
    );
    const bin = path.join(prefix, 'bin', 'xl');
    expect(existsSync(bin)).toBe(true);
    const installed = path.join(prefix, 'lib', 'node_modules', '@xlkit', 'xl');
    expect(readdirSync(installed).sort()).toEqual(['bin', 'dist', 'package.json']);

    const host = xlHost('xl-installed-');
    const xl = async (...args: string[]): Promise<Run> => {
      const r = await execa(bin, ['--state-dir', host.stateDir, ...args], {
        reject: false,
        stdin: 'ignore',
        cwd: work,
        // Only the system's PATH: nothing of the checkout's node_modules/.bin.
        env: { PATH: `${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin` },
        extendEnv: false,
      });
      return { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr) };
    };
    const help = await xl('help');
    expect(help.exitCode, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage xl /);
    expect(help.stdout).toContain(' migrate ');

    const created = await xl('create', await guestConfig(host.dir, 'inst1'));
    expect(created.exitCode, created.stderr).toBe(0);
    await lastBeatAbove({ ...host, xl }, 'inst1', 0);
    const destroyed = await xl('destroy', 'inst1');
    expect(destroyed.exitCode, destroyed.stderr).toBe(0);
    expect(JSON.parse((await xl('list', '--json')).stdout)).toEqual([]);
  });
});
