/**
 * `npm run demo`: the main job end to end on this host, with real QEMU and the test guest.
 * Boots a guest, saves and restores it, migrates it live to this host, then migrates it with
 * `-q` (disks mirrored) to a second state dir, then upgrades its QEMU from 7.2 to 10.0 in place
 * (`xl upgrade`, its RAM shared), printing what happened at each step. A step
 * whose command does not exist yet says so and the demo goes on with what exists.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { commandTable, isProcessAlive, type DomainView } from '@xlkit/xl';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const XL = path.join(repo, 'apps', 'xl', 'bin', 'xl.js');
const guest = path.join(repo, '.cache', 'guest');
const work = mkdtempSync(path.join(tmpdir(), 'xlkit-demo-'));
const hostA = path.join(work, 'host-a');
const hostB = path.join(work, 'host-b');
const bold = (s: string): string => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);
const has = (name: string): boolean => commandTable.some((c) => c.name === name);
const timeline: string[] = [];

function say(line: string): void {
  process.stdout.write(`${bold('demo')}: ${line}\n`);
}

/** Run xl against a state dir; its output goes straight to the terminal (progress bars). */
async function xl(stateDir: string, ...args: string[]): Promise<void> {
  process.stdout.write(
    `\n$ xl ${args.map((a) => (a === '' || /[\s'"]/.test(a) ? shellWord(a) : a)).join(' ')}\n`,
  );
  const started = Date.now();
  await execa('node', [XL, '--state-dir', stateDir, ...args], { stdio: 'inherit' });
  timeline.push(`${(args[0] ?? '').padEnd(14)} ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

async function quiet(stateDir: string, ...args: string[]): Promise<string> {
  const r = await execa('node', [XL, '--state-dir', stateDir, ...args]);
  return r.stdout;
}

async function lastBeat(stateDir: string, dom: string): Promise<number> {
  const log = await quiet(stateDir, 'console', dom);
  const beats = [...log.matchAll(/^xlkit-heartbeat (\d+)$/gm)].map((m) => Number(m[1]));
  return beats.at(-1) ?? 0;
}

async function waitBeatAbove(stateDir: string, dom: string, above: number): Promise<number> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const beat = await lastBeat(stateDir, dom);
    if (beat > above) return beat;
    if (Date.now() > deadline) throw new Error(`guest ${dom} showed no heartbeat above ${above}`);
    await sleep(300);
  }
}

/** A shell word for the `-s ''` receiver command line: built from paths this demo created. */
function shellWord(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function receiverCommand(stateDir: string): string {
  return ['node', XL, '--state-dir', stateDir, 'migrate-receive'].map(shellWord).join(' ');
}

async function killAll(stateDir: string): Promise<void> {
  const views = JSON.parse(await quiet(stateDir, 'list', '--json').catch(() => '[]')) as DomainView[];
  for (const v of views)
    await execa('node', [XL, '--state-dir', stateDir, 'destroy', String(v.id)], { reject: false });
  for (const v of views)
    if (v.qemu && isProcessAlive(v.qemu.pid, v.qemu.startTime)) process.kill(v.qemu.pid, 'SIGKILL');
}

async function run(): Promise<void> {
  const disk = path.join(work, 'disk.raw');
  await execa('qemu-img', ['create', '-f', 'raw', disk, '64M']);
  const cfg = path.join(work, 'demo.cfg');
  writeFileSync(
    cfg,
    [
      'name = "demo"',
      'memory = 256',
      'vcpus = 1',
      `kernel = "${path.join(guest, 'vmlinuz')}"`,
      `ramdisk = "${path.join(guest, 'initramfs.cpio.gz')}"`,
      'extra = "console=ttyS0 xlkit.disk=write xlkit.diskmb=32"',
      `disk = [ "${disk},raw,xvda,rw" ]`,
      'accel = "tcg"',
      // RAM in a file a second QEMU can map: step 5 upgrades the QEMU without copying it.
      'memory_backing = "shared"',
      '',
    ].join('\n'),
  );

  say('1. boot a real guest (QEMU under TCG, Linux + busybox, heartbeat on the serial console)');
  await xl(hostA, 'create', cfg);
  const booted = await waitBeatAbove(hostA, 'demo', 0);
  await xl(hostA, 'list');
  say(`guest is up: heartbeat ${booted}`);

  if (has('save') && has('restore')) {
    say('2. save the domain to a self-verifying file, then restore it');
    const file = path.join(work, 'demo.save');
    const before = await lastBeat(hostA, 'demo');
    await xl(hostA, 'save', 'demo', file);
    if (has('stream-dump')) await xl(hostA, 'stream-dump', file);
    await xl(hostA, 'restore', file);
    const after = await waitBeatAbove(hostA, 'demo', before);
    say(`restored: heartbeat was ${before} at save, continues at ${after} (not from 1)`);
  } else {
    say('2. xl save / xl restore: not there yet');
  }

  if (has('migrate') && has('migrate-receive')) {
    say('3. live-migrate to this host (a second state dir plays the destination)');
    const before = await lastBeat(hostA, 'demo');
    await xl(hostA, 'migrate', '-s', '', 'demo', receiverCommand(hostB));
    const after = await waitBeatAbove(hostB, 'demo', before);
    say(`migrated: heartbeat continues on the destination at ${after}`);

    say('4. migrate back with -q: disks mirrored (phase 2) while the guest keeps writing');
    const targetDir = path.join(work, 'disks-a');
    const fresh = await lastBeat(hostB, 'demo');
    try {
      await execa('mkdir', ['-p', targetDir]);
      await xl(hostB, 'migrate', '-q', '--target-dir', targetDir, '-s', '', 'demo', receiverCommand(hostA));
      const back = await waitBeatAbove(hostA, 'demo', fresh);
      say(`migrated with its disk: heartbeat continues at ${back}; disk now in the target dir`);
    } catch (err) {
      say(`xl migrate -q: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`);
      throw err;
    }
  } else {
    say('3-4. xl migrate / xl migrate -q: not there yet');
  }

  if (has('upgrade')) {
    const next = path.join(repo, '.cache', 'qemu-next', 'root', 'usr', 'bin', 'qemu-system-x86_64');
    const fallback = existsSync(path.join(repo, '.cache', 'qemu-next', 'FALLBACK'));
    const version = async (): Promise<string> => {
      const [v] = JSON.parse(await quiet(hostA, 'list', '--json', 'demo')) as DomainView[];
      return `QEMU ${v?.qemu?.version ?? '?'}, pid ${v?.qemu?.pid ?? '?'}`;
    };
    say(
      `5. live-upgrade the running guest's QEMU to ${fallback ? 'a copy of the system QEMU (bookworm-backports was unreachable at setup)' : 'QEMU 10.0 from bookworm-backports'}, RAM left in place`,
    );
    const before = await lastBeat(hostA, 'demo');
    const was = await version();
    await xl(hostA, 'upgrade', '--device-model', next, 'demo');
    const after = await waitBeatAbove(hostA, 'demo', before);
    say(`upgraded: ${was} -> ${await version()}; heartbeat continues at ${after}`);
  } else {
    say('5. xl upgrade: not there yet');
  }

  say('phase timeline:');
  for (const line of timeline) process.stdout.write(`  ${line}\n`);
}

try {
  await run();
  say('done: every step above ran against real QEMU');
} finally {
  await killAll(hostA);
  await killAll(hostB);
  rmSync(work, { recursive: true, force: true });
}
