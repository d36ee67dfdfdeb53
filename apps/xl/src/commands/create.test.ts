// `xl create -n` starts nothing: not even the device model it would run, to learn its version.
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandIo } from '../command.js';
import { main } from '../main.js';

function capture(): { io: CommandIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let o = '';
  let e = '';
  stdout.on('data', (d: Buffer) => (o += d.toString()));
  stderr.on('data', (d: Buffer) => (e += d.toString()));
  return { io: { stdin: new PassThrough(), stdout, stderr, env: {} }, out: () => o, err: () => e };
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-create-n-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('xl create -n', () => {
  for (const accel of ['tcg', 'kvm', 'auto']) {
    it(`runs no device_model_override (accel = "${accel}"), and prints what it would run`, async () => {
      const marker = path.join(dir, `ran-${accel}`);
      // A device model that leaves a trace when anything runs it, even to ask its version.
      const dm = path.join(dir, `dm-${accel}.sh`);
      await writeFile(dm, `#!/bin/sh\necho "$@" > '${marker}'\nexec qemu-system-x86_64 "$@"\n`);
      await chmod(dm, 0o755);
      const cfg = path.join(dir, `${accel}.cfg`);
      await writeFile(
        cfg,
        `name = "dry"\nmemory = 128\naccel = "${accel}"\ndevice_model_override = "${dm}"\n`,
      );
      const c = capture();
      const stateDir = path.join(dir, `state-${accel}`);
      expect(await main(['--state-dir', stateDir, 'create', '-n', cfg], c.io), c.err()).toBe(0);
      expect(existsSync(marker)).toBe(false);
      const { qemu } = JSON.parse(c.out()) as { qemu: string[] };
      expect(qemu[0]).toBe(dm);
      // TCG's RAM size depends on QEMU's version: unknown here, so the safe size, and said so.
      const m = qemu[qemu.indexOf('-m') + 1];
      if (accel === 'tcg') {
        expect(m).toBe('131080K');
        expect(c.err()).toContain(`qemu: ${dm} not probed in a dry run`);
      } else {
        expect(m).toBe('128M');
        expect(c.err()).not.toContain('not probed in a dry run;');
      }
    });
  }
});
