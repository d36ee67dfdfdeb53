import os from 'node:os';
import { execa } from 'execa';
import { keepFreedMemory } from '@xlkit/os-tune';
import { crc32Backend } from '@xlkit/stream';
import type { CommandSpec } from '../command.js';
import { DEFAULT_QEMU } from '../config/domain-config.js';
import { kvmVerdict } from '../qemu/kvm-probe.js';
import { openSession, println } from './common.js';
import { availableMemoryMiB } from '../host/host-memory.js';

/** "QEMU emulator version 7.2.22 (Debian ...)" → "7.2.22 (Debian ...)". */
export function parseQemuVersion(output: string): string | undefined {
  const m = /version\s+(\S+(?:\s+\([^)]*\))?)/.exec(output);
  return m?.[1];
}

export const infoCommand: CommandSpec = {
  name: 'info',
  summary: 'Get information about the host',
  usage: '',
  options: {},
  positionals: { min: 0, max: 0 },
  async run(args, io) {
    const { store, live } = await openSession(args, io);
    const r = await execa(DEFAULT_QEMU, ['--version'], { reject: false, timeout: 10_000, stdin: 'ignore' });
    const version = r.failed
      ? `unavailable (${(r.shortMessage ?? '').split('\n')[0] ?? ''})`
      : (parseQemuVersion(String(r.stdout)) ?? 'unknown');
    // Never probes: the verdict an earlier create cached, if any.
    const kvm = await kvmVerdict(DEFAULT_QEMU, store.cacheDir, { spawn: false });
    const rows: [string, string][] = [
      ['host', os.hostname()],
      ['release', os.release()],
      ['machine', os.machine()],
      ['nr_cpus', String(os.cpus().length)],
      ['total_memory', String(Math.floor(os.totalmem() / 2 ** 20))],
      ['free_memory', String(availableMemoryMiB())],
      ['qemu_binary', DEFAULT_QEMU],
      ['qemu_version', version],
      ['accelerators', kvm?.works === true ? 'tcg kvm' : 'tcg'],
      ['kvm', kvm === undefined ? 'not probed yet (xl create probes it)' : kvm.why],
      ['default_accel', 'auto'],
      ['xl_state_dir', store.root],
      // Whether xl keeps the memory it frees (@xlkit/os-tune): 'unavailable' if its addon did not build.
      ['xl_malloc_tuning', keepFreedMemory()],
      // Which CRC-32 checks save files and migration streams: 'isa-l', or 'zlib' if @xlkit/stream's addon did not build.
      ['xl_crc32', crc32Backend()],
      ['nr_domains', String(live.length)],
    ];
    for (const [k, v] of rows) println(io.stdout, `${k.padEnd(23)}: ${v}`);
    return 0;
  },
};
