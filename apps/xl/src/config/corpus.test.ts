/**
 * The xl.cfg corpus (corpus/*.cfg, written after xl.cfg(5)'s examples and common PV and HVM
 * configs, old and new disk syntax): each file either gives exactly the `xl create -n` output
 * pinned beside it (NAME.expected.json: warnings and the QEMU argv), or is refused with the
 * message pinned there. The files name host paths that need not exist: they are not looked
 * up, and nothing is probed (accel auto shows as not probed, as in a dry run).
 * After a deliberate change: UPDATE_CORPUS=1 npx vitest run --root apps/xl src/config/corpus
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { qemuCommand } from '../domain/start.js';
import { ACCEL_NOT_PROBED } from '../qemu/argv.js';
import { domainPaths } from '../store/domain-paths.js';
import { parseConfigText } from './load-config.js';

const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'corpus');
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.cfg'))
  .sort();

type Expected = { warnings: string[]; qemu: string[] } | { refused: string };

let cacheDir: string;
beforeAll(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'xl-corpus-'));
});
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

async function dryRun(file: string): Promise<Expected> {
  const text = readFileSync(path.join(dir, file), 'utf8');
  let built;
  try {
    built = parseConfigText(text, file, [], { fileExists: () => true, cwd: '/' });
  } catch (err) {
    if (err instanceof ConfigError) return { refused: err.message };
    throw err;
  }
  const { binary, argv } = await qemuCommand(built.config, domainPaths('<state-dir>', 0), {
    cacheDir,
    accel: built.config.accel === 'auto' ? ACCEL_NOT_PROBED : built.config.accel,
    spawn: false,
  });
  return { warnings: built.warnings, qemu: [binary, ...argv] };
}

describe('xl.cfg corpus', () => {
  it('has at least 20 configs, some refused and most accepted', () => {
    expect(files.length).toBeGreaterThanOrEqual(20);
  });

  for (const file of files) {
    it(file, async () => {
      const got = await dryRun(file);
      const expectedFile = path.join(dir, file.replace(/\.cfg$/, '.expected.json'));
      if (process.env['UPDATE_CORPUS'] === '1')
        writeFileSync(expectedFile, `${JSON.stringify(got, null, 2)}\n`);
      const expected = JSON.parse(readFileSync(expectedFile, 'utf8')) as Expected;
      expect(got).toEqual(expected);
      if ('refused' in expected) {
        // A refusal names the key or the value at fault.
        expect(expected.refused).toMatch(/^[^:]+\.cfg:\d+:\d+: .*('[a-z_]+'|[a-z_]+ = |disk|vdev|vnc)/);
      }
    });
  }
});
