// The fault matrix (matrix.ts), each cell run end to end against real QEMU (cell.ts). `npm test`
// runs the cells marked ci; `npm run test:faults` (XLKIT_FAULTS=all) runs every one. The table
// of outcomes is printed at the end, impossible cells with their reason.
import { appendFileSync } from 'node:fs';
import { afterAll, describe, it } from 'vitest';
import { cleanupAll } from '../helpers/index.js';
import { dropGuest, runCell, traceTo, type Guest, type Outcome } from './cell.js';
import { cellName, MATRIX, type Cell } from './matrix.js';

// One guest carries on from cell to cell (cell.ts): what each cell tracks is cleaned up at the end.
afterAll(cleanupAll);
const pool: { guest?: Guest } = {};

const all = process.env.XLKIT_FAULTS === 'all';
const only = process.env.XLKIT_FAULTS_ONLY;
const table = new Map<string, string>();
/** Each outcome as it comes (vitest shows a file's results only at its end). */
const log = process.env.XLKIT_FAULTS_LOG;
if (log !== undefined) traceTo((text) => appendFileSync(log, `${text.replace(/^/gm, '    ')}\n`));
const note = (c: Cell, text: string) => {
  table.set(cellName(c), text);
  if (log !== undefined && text !== 'FAILED') appendFileSync(log, `| ${c.fault} | ${c.phase} | ${text} |\n`);
};

function selected(c: Cell): boolean {
  if (only !== undefined) return only.split(';').some((s) => cellName(c).includes(s));
  return all || c.ci === true;
}

function row(o: Outcome | string): string {
  return typeof o === 'string' ? o : `exit ${o.exit}; ${o.where}; ${o.line}`;
}

describe('fault matrix: faults × phases of xl migrate (real QEMU)', { timeout: 420_000 }, () => {
  MATRIX.forEach((c) => {
    if (c.impossible !== undefined) {
      table.set(cellName(c), `impossible: ${c.impossible}`);
      return;
    }
    if (!selected(c)) return;
    it(cellName(c), async () => {
      const t0 = Date.now();
      const took = () => `${Math.round((Date.now() - t0) / 1000)} s`;
      table.set(cellName(c), 'FAILED');
      try {
        const outcome = await runCell(c, pool);
        note(c, `ok (${took()}): ${row(outcome)}`);
      } catch (err) {
        dropGuest(pool.guest);
        delete pool.guest;
        note(
          c,
          `FAILED (${took()}): ${String((err as Error).message)
            .split('\n')[0]!
            .slice(0, 200)}`,
        );
        throw err;
      }
    });
  });
  afterAll(() => {
    const lines = MATRIX.filter((c) => table.has(cellName(c))).map(
      (c) => `| ${c.fault} | ${c.phase} | ${table.get(cellName(c))} |`,
    );
    process.stdout.write(`\n| fault | phase | outcome |\n|---|---|---|\n${lines.join('\n')}\n`);
  });
});
