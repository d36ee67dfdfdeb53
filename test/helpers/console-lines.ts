// The guest's console line formats (tools/guest/README.md), as constants and parsers.

export const HEARTBEAT_PREFIX = 'xlkit-heartbeat';
export const HEARTBEAT_LINE = /^xlkit-heartbeat (\d+)$/;
export const DISK_WRITE_START_LINE = /^xlkit-disk-write start (\d+) (\d+) (\d+)$/;
export const DISK_WRITE_PASS_LINE = /^xlkit-disk-write pass (\d+) (\d+)$/;
export const DISK_VERIFY_OK_LINE = /^xlkit-disk-verify ok (\d+)$/;
export const DISK_VERIFY_FAIL_LINE = /^xlkit-disk-verify FAIL (\d+) (.+)$/;
export const DIRTY_START_LINE = /^xlkit-dirty start (\d+) (\d+)$/;
export const DIRTY_RATE_LINE = /^xlkit-dirty rate (\d+)$/;
export const FILL_DONE_LINE = /^xlkit-fill done (\d+)$/;

/** Kernel command-line words that select the guest's workloads. */
export const workload = {
  diskWrite: 'xlkit.disk=write',
  diskVerify: 'xlkit.disk=verify',
  diskVerifyThenWrite: 'xlkit.disk=verify,write',
  diskMiB: (mib: number) => `xlkit.diskmb=${mib}`,
  diskDev: (name: string) => `xlkit.diskdev=${name}`,
  dirty: (mibPerSecond: number, workingSetMiB?: number) =>
    workingSetMiB === undefined
      ? `xlkit.dirty=${mibPerSecond}`
      : `xlkit.dirty=${mibPerSecond} xlkit.dirtymb=${workingSetMiB}`,
  fill: (mib: number) => `xlkit.fill=${mib}`,
} as const;

/**
 * Splits serial output into complete lines without \r (the serial port sends \r\n). A
 * trailing line without its newline is still being written and is left out, so
 * "xlkit-heartbeat 1" is never mistaken for half of "xlkit-heartbeat 12".
 */
export function serialLines(text: string): string[] {
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .slice(0, -1)
    .map((line) => line.replace(/\r/g, '').trim());
}

/** Every heartbeat counter in the text, in order. */
export function heartbeats(text: string): number[] {
  const out: number[] = [];
  for (const line of serialLines(text)) {
    const m = HEARTBEAT_LINE.exec(line);
    if (m?.[1] !== undefined) out.push(Number(m[1]));
  }
  return out;
}

export type DiskVerifyLine = { ok: true; blocks: number } | { ok: false; block: number; reason: string };

/** The last disk-verify result line in the text, if any. */
export function diskVerifyResult(text: string): DiskVerifyLine | undefined {
  let result: DiskVerifyLine | undefined;
  for (const line of serialLines(text)) {
    const ok = DISK_VERIFY_OK_LINE.exec(line);
    if (ok?.[1] !== undefined) result = { ok: true, blocks: Number(ok[1]) };
    const fail = DISK_VERIFY_FAIL_LINE.exec(line);
    if (fail?.[1] !== undefined && fail[2] !== undefined) {
      result = { ok: false, block: Number(fail[1]), reason: fail[2] };
    }
  }
  return result;
}
