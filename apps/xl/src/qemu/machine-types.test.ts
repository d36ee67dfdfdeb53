import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { machineTypes, parseMachineHelp } from './machine-types.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A stand-in QEMU: prints a machine list and counts its runs in a file beside it. */
function fakeQemu(dir: string, alias: string): string {
  const bin = path.join(dir, 'qemu-fake');
  writeFileSync(bin, [
    '#!/bin/sh',
    `echo run >> "${path.join(dir, 'runs')}"`,
    'echo "Supported machines are:"',
    `echo "pc                   Standard PC (alias of ${alias})"`,
    `echo "${alias}        Standard PC (default)"`,
    '',
  ].join('\n'));
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

describe('machineTypes', () => {
  test('probes once per binary, then answers from the cache until the binary changes', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = fakeQemu(dir, 'pc-i440fx-7.2');
    const cache = path.join(dir, 'cache');
    expect((await machineTypes(bin, cache)).aliases.get('pc')).toBe('pc-i440fx-7.2');
    expect((await machineTypes(bin, cache)).machines.has('pc-i440fx-7.2')).toBe(true);
    expect(runs(dir)).toBe(1);
    // An upgraded QEMU (new contents and mtime) is probed again.
    fakeQemu(dir, 'pc-i440fx-8.0');
    const later = new Date(statSync(bin).mtimeMs + 5000);
    utimesSync(bin, later, later);
    expect((await machineTypes(bin, cache)).aliases.get('pc')).toBe('pc-i440fx-8.0');
    expect(runs(dir)).toBe(2);
  });

  test('a corrupt cache file is probed over, and no cache dir means always probing', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = fakeQemu(dir, 'pc-i440fx-7.2');
    const cache = path.join(dir, 'cache');
    await machineTypes(bin, cache);
    writeFileSync(path.join(cache, 'qemu-machine-types.json'), '{not json');
    expect((await machineTypes(bin, cache)).aliases.get('pc')).toBe('pc-i440fx-7.2');
    await machineTypes(bin);
    expect(runs(dir)).toBe(3);
    // Valid JSON of the wrong shape is probed over too, never thrown.
    writeFileSync(path.join(cache, 'qemu-machine-types.json'), JSON.stringify({ entries: { [bin]: { stamp: 'x', machines: [1], aliases: [1] } } }));
    expect((await machineTypes(bin, cache)).machines.has('pc')).toBe(true);
    expect(runs(dir)).toBe(4);
    // One entry per binary: an upgrade replaces the old entry.
    expect(Object.keys(JSON.parse(readFileSync(path.join(cache, 'qemu-machine-types.json'), 'utf8')).entries)).toEqual([bin]);
  });

  test('an empty machine list is returned but not cached', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-machines-'));
    dirs.push(dir);
    const bin = path.join(dir, 'qemu-empty');
    writeFileSync(bin, `#!/bin/sh\necho run >> "${path.join(dir, 'runs')}"\necho "Supported machines are:"\n`);
    chmodSync(bin, 0o755);
    const cache = path.join(dir, 'cache');
    expect((await machineTypes(bin, cache)).machines.size).toBe(0);
    await machineTypes(bin, cache);
    expect(runs(dir)).toBe(2);
  });

  test('a binary that fails is an XL_QEMU_FAILED error', async () => {
    await expect(machineTypes('/bin/false', undefined)).rejects.toMatchObject({ code: 'XL_QEMU_FAILED' });
  });
});
