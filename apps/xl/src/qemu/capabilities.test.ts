import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import {
  CACHE_FILE,
  cachedQemuCapabilities,
  parseMachineHelp,
  parseVersion,
  qemuCapabilities,
} from './capabilities.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in QEMU: prints its version or a machine list, and counts its machine-list runs in a file beside it. */
function fakeQemu(dir: string, alias: string, version = '7.2.22'): string {
  const bin = path.join(dir, 'qemu-fake');
  writeFileSync(
    bin,
    [
      '#!/bin/sh',
      `[ "$1" = --version ] && { echo "QEMU emulator version ${version} (Debian 1:7.2+dfsg-7)"; exit 0; }`,
      `echo run >> "${path.join(dir, 'runs')}"`,
      'echo "Supported machines are:"',
      `echo "pc                   Standard PC (alias of ${alias})"`,
      `echo "${alias}        Standard PC (default)"`,
      '',
    ].join('\n'),
  );
  chmodSync(bin, 0o755);
  return bin;
}

const runs = (dir: string) => readFileSync(path.join(dir, 'runs'), 'utf8').trim().split('\n').length;

describe('parseMachineHelp', () => {
  test('collects names and resolves aliases', () => {
    const text = [
      'Supported machines are:',
      'microvm              microvm (i386)',
      'pc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)',
      'pc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)',
      'q35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)',
      'none                 empty machine',
      '',
    ].join('\n');
    const { machines, aliases } = parseMachineHelp(text);
    expect([...machines]).toEqual(['microvm', 'pc', 'pc-i440fx-7.2', 'q35', 'none']);
    expect(aliases.get('pc')).toBe('pc-i440fx-7.2');
    expect(aliases.get('q35')).toBe('pc-q35-7.2');
    expect(aliases.has('pc-i440fx-7.2')).toBe(false);
  });
});

describe('parseVersion', () => {
  test('reads major, minor and micro from the first line; anything else is unknown', () => {
    expect(
      parseVersion(
        'QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)\nCopyright (c) 2003-2022 Fabrice Bellard\n',
      ),
    ).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(parseVersion('QEMU emulator version 9.0.0\n')).toEqual({ major: 9, minor: 0, micro: 0 });
    expect(parseVersion('something else 1.2.3')).toBeUndefined();
  });
});

describe('qemuCapabilities', () => {
  test('probes once per binary, then answers from the cache until the binary changes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = fakeQemu(dir, 'pc-i440fx-7.2');
    const cache = path.join(dir, 'cache');
    const first = await qemuCapabilities(bin, cache);
    expect(first.aliases.get('pc')).toBe('pc-i440fx-7.2');
    expect(first.version).toEqual({ major: 7, minor: 2, micro: 22 });
    const cached = await qemuCapabilities(bin, cache);
    expect(cached.machines.has('pc-i440fx-7.2')).toBe(true);
    expect(cached.version).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(runs(dir)).toBe(1);
    // An upgraded QEMU (new contents and mtime) is probed again.
    fakeQemu(dir, 'pc-i440fx-9.0', '9.0.2');
    const later = new Date(statSync(bin).mtimeMs + 5000);
    utimesSync(bin, later, later);
    const upgraded = await qemuCapabilities(bin, cache);
    expect(upgraded.aliases.get('pc')).toBe('pc-i440fx-9.0');
    expect(upgraded.version).toEqual({ major: 9, minor: 0, micro: 2 });
    expect(runs(dir)).toBe(2);
  });

  test('the cache alone (a dry run) never runs the binary: nothing, then what a probe found', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = fakeQemu(dir, 'pc-i440fx-7.2', '9.0.2');
    const cache = path.join(dir, 'cache');
    expect(await cachedQemuCapabilities(bin, cache)).toBeUndefined();
    expect(() => runs(dir)).toThrow(/ENOENT/);
    await qemuCapabilities(bin, cache);
    expect((await cachedQemuCapabilities(bin, cache))?.version).toEqual({ major: 9, minor: 0, micro: 2 });
    expect(runs(dir)).toBe(1);
  });

  test('a version QEMU does not print readably is cached as unknown', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = fakeQemu(dir, 'pc-i440fx-7.2', 'x.y');
    const cache = path.join(dir, 'cache');
    expect((await qemuCapabilities(bin, cache)).version).toBeUndefined();
    expect((await qemuCapabilities(bin, cache)).version).toBeUndefined();
    expect(runs(dir)).toBe(1);
  });

  test('a corrupt cache file is probed over, and no cache dir means always probing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = fakeQemu(dir, 'pc-i440fx-7.2');
    const cache = path.join(dir, 'cache');
    await qemuCapabilities(bin, cache);
    writeFileSync(path.join(cache, CACHE_FILE), '{not json');
    expect((await qemuCapabilities(bin, cache)).aliases.get('pc')).toBe('pc-i440fx-7.2');
    await qemuCapabilities(bin);
    expect(runs(dir)).toBe(3);
    // Valid JSON of the wrong shape is probed over too, never thrown.
    writeFileSync(
      path.join(cache, CACHE_FILE),
      JSON.stringify({ entries: { [bin]: { stamp: 'x', machines: [1], aliases: [1] } } }),
    );
    expect((await qemuCapabilities(bin, cache)).machines.has('pc')).toBe(true);
    expect(runs(dir)).toBe(4);
    // An entry without a version (written before xl cached it) is probed over too.
    const file = JSON.parse(readFileSync(path.join(cache, CACHE_FILE), 'utf8')) as {
      entries: Record<string, { version?: unknown }>;
    };
    delete file.entries[bin]!.version;
    writeFileSync(path.join(cache, CACHE_FILE), JSON.stringify(file));
    expect((await qemuCapabilities(bin, cache)).version).toEqual({ major: 7, minor: 2, micro: 22 });
    expect(runs(dir)).toBe(5);
    // One entry per binary: an upgrade replaces the old entry.
    expect(Object.keys(JSON.parse(readFileSync(path.join(cache, CACHE_FILE), 'utf8')).entries)).toEqual([
      bin,
    ]);
  });

  test('an empty machine list is returned but not cached', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = path.join(dir, 'qemu-empty');
    writeFileSync(
      bin,
      `#!/bin/sh\n[ "$1" = --version ] && exit 0\necho run >> "${path.join(dir, 'runs')}"\necho "Supported machines are:"\n`,
    );
    chmodSync(bin, 0o755);
    const cache = path.join(dir, 'cache');
    expect((await qemuCapabilities(bin, cache)).machines.size).toBe(0);
    await qemuCapabilities(bin, cache);
    expect(runs(dir)).toBe(2);
  });

  test('a binary that fails is an XL_QEMU_FAILED error', async () => {
    await expect(qemuCapabilities('/bin/false', undefined)).rejects.toMatchObject({ code: 'XL_QEMU_FAILED' });
  });

  test('a missing binary is said in one line (no "spawn … ENOENT" continuation)', async () => {
    const err = (await qemuCapabilities('/nonexistent/qemu-system-x86_64').catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(
      /^cannot read the [a-z ]+ of \/nonexistent\/qemu-system-x86_64: no such program$/,
    );
  });
});
