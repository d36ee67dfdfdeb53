import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { domainLogPaths, keptLogs, startDomainLogs } from './domain-logs.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function domainDir(root: string, id: number) {
  const dir = path.join(root, 'domains', String(id));
  await mkdir(dir, { recursive: true });
  return { qemuLog: path.join(dir, 'qemu.log'), consoleLog: path.join(dir, 'console.log'), dir };
}

describe('domain logs', () => {
  test('each start of a name rotates its logs, keeping four old copies; the domain dir links to them', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'xl-logs-'));
    dirs.push(root);
    const logDir = path.join(root, 'logs');
    const logs = domainLogPaths(logDir, 'web');
    for (let start = 1; start <= 6; start++) {
      const paths = await domainDir(root, start);
      expect(await startDomainLogs(logDir, 'web', paths)).toEqual(logs);
      writeFileSync(paths.consoleLog, `boot ${start}\n`); // through the link
      expect(await keptLogs(paths)).toEqual(logs);
      await rm(paths.dir, { recursive: true }); // the domain goes: only its links
      expect(readFileSync(logs.console, 'utf8')).toBe(`boot ${start}\n`);
    }
    expect(readFileSync(`${logs.console}.1`, 'utf8')).toBe('boot 5\n');
    expect(readFileSync(`${logs.console}.4`, 'utf8')).toBe('boot 2\n');
    expect(existsSync(`${logs.console}.5`)).toBe(false);
    expect(readdirSync(logDir).filter((f) => f.startsWith('console-')).length).toBe(5);
  });

  test('a domain without links has no kept logs', async () => {
    const root = mkdtempSync(path.join(os.tmpdir(), 'xl-logs-'));
    dirs.push(root);
    expect(await keptLogs(await domainDir(root, 1))).toBeUndefined();
  });
});
