/**
 * Test helper process: `churn.ts tuned|default`. Reads 256 MiB of a file in 1 MiB pieces, as
 * `xl restore` reads a save file (a fresh Buffer per read, dropped for the GC), and prints
 * `{ status, minorFaults }` for the reading alone.
 */
import { open } from 'node:fs/promises';
import { keepFreedMemory } from '../keep-freed-memory.js';

const [mode, file] = process.argv.slice(2);
const status = mode === 'tuned' ? keepFreedMemory() : 'default';
const fh = await open(file as string, 'r');
const before = process.resourceUsage().minorPageFault;
let bytes = 0;
for await (const b of fh.createReadStream({ highWaterMark: 1024 * 1024 })) bytes += (b as Buffer).length;
const minorFaults = process.resourceUsage().minorPageFault - before;
await fh.close();
process.stdout.write(JSON.stringify({ status, bytes, minorFaults }));
