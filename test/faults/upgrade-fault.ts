// The matrix's upgrade cells (issue 25's `xl upgrade`, same host): the upgrade of the cell's
// guest to the second QEMU, with its fault; the checks afterwards are the migrate cells' own.
import type { Result } from 'execa';
import { execa } from 'execa';
import { nextQemu } from '../helpers/qemu-next.js';
import { onJsonLines, XL, type XlHost } from '../xl-rig.js';
import type { Cell } from './matrix.js';

/** `xl upgrade` of `name` on `a`; a signal, if the cell sends one, once it holds before GO. */
export async function upgradeWithFault(cell: Cell, a: XlHost, name: string): Promise<Result> {
  const u = cell.upgrade!;
  const child = execa(
    'node',
    [XL, '--state-dir', a.stateDir, 'upgrade', '--json', '--device-model', nextQemu().binary, name],
    { reject: false, stdin: 'ignore', timeout: 180_000, env: { XLKIT_FAULT: u.hook } },
  );
  const signal = u.signal;
  if (signal !== undefined)
    onJsonLines(child.stdout!, (ev) => {
      if (ev.event === 'stalled-before-go') child.kill(signal);
    });
  return child;
}
