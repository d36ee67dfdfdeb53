#!/usr/bin/env node
// Entry shim: load the TypeScript sources through tsx (no build step), then run main.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
process.exitCode = await main(process.argv.slice(2));
