#!/usr/bin/env node
// Entry shim. xl runs from one esbuild bundle of its TypeScript sources and of everything they
// import (dist/xl.cjs, built by ../bundle.mjs at build and pack time), so a command starts in a
// fraction of a second: migrate-receive on the far end of a pipe and every `xl list` pay that
// start-up. An installed xl runs the bundle it was packed with. In a checkout (src/ beside
// bin/), the bundle is rebuilt whenever a source file is newer than it, or than this shim.
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';

// xl's data paths (save, restore, migrate) move GiBs through short-lived read Buffers. To V8
// every 64 MiB of them is external-memory pressure, and with xl's whole module graph in the
// heap each such signal started another round of incremental (concurrent) marking: measured,
// that doubled the CPU a 1 GiB transfer costs (npm run bench -- stream with this module graph
// loaded: 0.95 -> 2.07 GB/s raw). xl's heap stays small (~10-30 MB), so a full mark-compact,
// when one is needed, is a few milliseconds; incremental marking buys nothing here.
v8.setFlagsFromString('--no-incremental-marking');

const appDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bundle = path.join(appDir, 'dist', 'xl.cjs');
const codeCache = `${bundle}.cache`;
// Set only by bundle.mjs: load the new bundle, write V8's code cache of it there, and stop.
const cacheOut = process.env.XLKIT_CODE_CACHE_OUT;

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts'))
      newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

function bundleIsFresh(sourceDirs, addonFiles) {
  let built;
  try {
    built = statSync(bundle).mtimeMs;
  } catch {
    return false;
  }
  return (
    statSync(fileURLToPath(import.meta.url)).mtimeMs <= built &&
    statSync(path.join(appDir, 'bundle.mjs')).mtimeMs <= built &&
    sourceDirs.every((dir) => newestSource(dir) <= built) &&
    addonFiles.every((file) => !existsSync(file) || statSync(file).mtimeMs <= built)
  );
}

if (cacheOut !== undefined) {
  // The build that asked for it has just written the bundle.
} else if (existsSync(path.join(appDir, 'src'))) {
  const { addonFiles, buildBundle, sourceDirs } = await import(
    pathToFileURL(path.join(appDir, 'bundle.mjs')).href
  );
  if (!bundleIsFresh(sourceDirs, addonFiles)) await buildBundle();
} else if (!existsSync(bundle)) {
  process.stderr.write(`xl: this installation has no ${bundle}: reinstall the @xlkit/xl package\n`);
  process.exit(1);
}

/**
 * The bundle compiled with V8's code cache, when the cache is this build's (its first line
 * names the build, bundle.mjs): most of its parsing and compiling is skipped. Measured
 * 2026-12-07: compiling took 76-104 ms of a start under load, 10-24 ms with the cache. Its
 * `require` is the bundle's own, as Node would give it.
 */
function loadCompiled() {
  const source = readFileSync(bundle, 'utf8');
  const tag = Buffer.from(`${/^\/\/ xlkit-build (\S+)\n/.exec(source)?.[1] ?? 'none'}\n`);
  let cachedData;
  try {
    const data = readFileSync(codeCache);
    if (data.subarray(0, tag.length).equals(tag)) cachedData = data.subarray(tag.length);
  } catch {
    // No cache: compiled from the source alone.
  }
  const script = new vm.Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, {
    filename: bundle,
    cachedData,
  });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(bundle), module, bundle, path.dirname(bundle));
  if (cacheOut !== undefined) {
    // After the module ran: the functions its start compiled are in the cache too.
    writeFileSync(cacheOut, Buffer.concat([tag, script.createCachedData()]));
    process.exit(0);
  }
  return module.exports;
}

// Stack traces map back to the TypeScript sources only with -v: Node decodes the bundle's whole
// source map when it loads it, about 45 ms of every start here (xl help: 0.21-0.28 s, node
// itself 0.09 s), and migrate-receive's start is part of every migration. An internal error
// says to run again with -v. With -v the bundle is loaded as Node loads any CommonJS module
// (no code cache), which is what maps its stack traces.
const verbose = process.argv.slice(2).some((a) => /^-v+$/.test(a) || a === '--verbose');
if (verbose) process.setSourceMapsEnabled(true);
// Everything xl creates from here on is its user's alone (guest RAM in save files, logs,
// sockets, -q disk images): files made with an explicit mode keep it, the rest get no group or
// other bits. Set after the bundle build above, whose files are for everyone. QEMU sets its
// own umask once daemonized: see src/host/private-files.ts.
if (cacheOut === undefined) process.umask(0o077);
const { main, keepFreedMemory } = verbose ? createRequire(import.meta.url)(bundle) : loadCompiled();
// The same data paths through glibc: freed buffers are reused rather than faulted in again
// (libs/os-tune; a no-op where its addon was not built).
keepFreedMemory();
process.exitCode = await main(process.argv.slice(2));
