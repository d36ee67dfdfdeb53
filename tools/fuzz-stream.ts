/**
 * `npm run fuzz:stream -- --seconds N [--seed S]`: mutation-fuzzes the stream reader for N
 * seconds over the corpus of valid streams (systematic mutations once, then random ones with
 * random splits). Prints cases/s; on an invariant violation prints the seed and case, exits 1.
 */
import { parseArgs } from 'node:util';
import {
  checkCase,
  corpus,
  prng,
  randomMutation,
  systematicMutations,
} from '../libs/stream/src/testing/fuzz.js';

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '10' }, seed: { type: 'string' } },
});
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0) {
  console.error('usage: npm run fuzz:stream -- --seconds N [--seed S]');
  process.exit(2);
}
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 32) : Number(values.seed);
const HANG_MS = 5000;

async function guarded(bytes: Buffer, cuts: number[], checkpointed: boolean | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`invariant broken: no result after ${HANG_MS} ms (hang)`)),
      HANG_MS,
    );
  });
  try {
    await Promise.race([checkCase(bytes, cuts, checkpointed), hang]);
  } finally {
    clearTimeout(timer);
  }
}

const entries = corpus();
const rand = prng(seed);
const start = Date.now();
const deadline = start + seconds * 1000;
let cases = 0;
let lastReport = start;
console.log(`fuzz:stream seed ${seed}, ${seconds} s, ${entries.length} corpus streams`);
try {
  for (const e of entries) {
    for (const [name, m] of systematicMutations(e.bytes)) {
      if (Date.now() > deadline) break;
      await guarded(m, [], e.checkpointed).catch((err: unknown) => {
        throw new Error(`${e.name} ${name}: ${String(err)}`);
      });
      cases++;
    }
  }
  let i = 0;
  while (Date.now() < deadline) {
    const e = entries[i % entries.length]!;
    const m = randomMutation(e.bytes, rand);
    const cuts = Array.from({ length: Math.floor(rand() * 5) }, () => Math.floor(rand() * m.length));
    await guarded(m, cuts, e.checkpointed).catch((err: unknown) => {
      throw new Error(
        `random case ${i} (${e.name}) hex ${m.toString('hex')} cuts ${cuts.join(',')}: ${String(err)}`,
      );
    });
    cases++;
    i++;
    if (Date.now() - lastReport > 5000) {
      lastReport = Date.now();
      console.log(`  ${cases} cases, ${Math.round(cases / ((lastReport - start) / 1000))} cases/s`);
    }
  }
} catch (err) {
  console.error(`FAILURE with seed ${seed}: ${String(err)}`);
  console.error(`reproduce: npm run fuzz:stream -- --seconds ${seconds} --seed ${seed}`);
  process.exit(1);
}
const elapsed = (Date.now() - start) / 1000;
console.log(
  `ok: ${cases} cases in ${elapsed.toFixed(1)} s, ${Math.round(cases / elapsed)} cases/s, no invariant violations (seed ${seed})`,
);
