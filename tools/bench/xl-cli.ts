/** Running the repo's `xl` from the benchmarks (argument arrays, output captured), and waiting on a guest's console. */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const XL = path.join(ROOT, 'apps', 'xl', 'bin', 'xl.js');

export function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [XL, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `xl --state-dir DIR ARGS...`; its stdout, or an error with its stderr. */
export async function xl(stateDir: string, ...args: string[]): Promise<string> {
  const r = await run(['--state-dir', stateDir, ...args]);
  if (r.code !== 0) throw new Error(`xl ${args.join(' ')} failed (${String(r.code)}): ${r.stderr.trim()}`);
  return r.stdout;
}

/** Polls a file (a guest's console log) until `pattern` shows up. */
export async function waitForLine(file: string, pattern: RegExp, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // Not there yet.
    }
    if (pattern.test(text)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${String(pattern)} in ${file}`);
    await sleep(500);
  }
}

export interface BenchGuest {
  name: string;
  memoryMiB: number;
  /** Words for the guest's kernel command line after `console=ttyS0 quiet` (its workload). */
  workload?: string;
  /** Default: the project's test guest in .cache/guest. */
  kernel?: string;
  ramdisk?: string;
  /** Further xl.cfg lines (disks, memory backing). */
  more?: string[];
}

/** The benches' xl.cfg: the test guest with 1 vCPU under TCG, as every bench runs it. */
export function benchGuestConfig(g: BenchGuest): string {
  const guest = path.join(ROOT, '.cache', 'guest');
  return [
    `name = "${g.name}"`,
    `memory = ${g.memoryMiB}`,
    'vcpus = 1',
    `kernel = "${g.kernel ?? path.join(guest, 'vmlinuz')}"`,
    `ramdisk = "${g.ramdisk ?? path.join(guest, 'initramfs.cpio.gz')}"`,
    `extra = "${['console=ttyS0 quiet', g.workload].filter(Boolean).join(' ')}"`,
    'accel = "tcg"',
    ...(g.more ?? []),
    '',
  ].join('\n');
}
