// Builds xl's bundle: dist/xl.cjs, one esbuild bundle of src/main.ts and of everything it
// imports (the workspace libraries, execa, binary-parser), so an installed xl needs no other
// package; the workspace's native addons are copied beside it (dist/addons/) and the bundle
// loads them from there. `npm run build -w @xlkit/xl` and `npm pack` run it; in a checkout the
// launcher (bin/xl.js) also runs it whenever a source is newer than the bundle.
//
// execa is bundled: as an external package its ~50 modules took about 90 ms of every start.
// The source map keeps file:line mapping but not the sources' text, which halves the bundle.
//
// The bundle is CommonJS so that the launcher can compile it with V8's code cache
// (dist/xl.cjs.cache, made here by the launcher itself, under the V8 flags it runs with): a
// start then skips most of the parsing and compiling. The cache names the build it belongs to
// (the bundle's first line), so a cache never meets another bundle.
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const appDir = path.dirname(fileURLToPath(import.meta.url));
const repo = path.resolve(appDir, '..', '..');

/** The libraries' addons: the name they are required by, and the file node-gyp built. */
const ADDONS = [
  { spec: '@xlkit/os-tune/addon', built: path.join(repo, 'libs/os-tune/build/Release/os_tune.node') },
  { spec: '@xlkit/stream/crc32-addon', built: path.join(repo, 'libs/stream/build/Release/crc32_isal.node') },
];

/** Source trees whose changes make the bundle stale (the launcher's freshness check). */
export const sourceDirs = [
  path.join(appDir, 'src'),
  ...['stream', 'qmp', 'os-tune'].map((lib) => path.join(repo, 'libs', lib, 'src')),
];

export const bundlePath = path.join(appDir, 'dist', 'xl.cjs');

/** V8's code cache for the bundle (bin/xl.js reads and makes it). */
export const codeCachePath = `${bundlePath}.cache`;

/** The addons as node-gyp built them: one rebuilt since the bundle makes it stale too. */
export const addonFiles = ADDONS.map((a) => a.built);

/**
 * Builds to a temporary name and renames, so concurrent builds and running xl processes are
 * safe. An addon that did not build is left out: its library falls back (slower) without it.
 */
export async function buildBundle() {
  const { build } = await import('esbuild');
  const dist = path.dirname(bundlePath);
  const temp = `${bundlePath}.${process.pid}.tmp`;
  mkdirSync(path.join(dist, 'addons'), { recursive: true });
  await build({
    entryPoints: [path.join(appDir, 'src', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: temp,
    sourcemap: 'inline',
    sourcesContent: false,
    // The build's id on the first line (its code cache must carry the same), strict mode as
    // the ES modules it came from, and `import.meta.url` (the libraries' addon loaders).
    banner: {
      js: `// xlkit-build ${randomUUID()}\n'use strict';\nconst xlBundleUrl = require('node:url').pathToFileURL(__filename).href;`,
    },
    define: { 'import.meta.url': 'xlBundleUrl' },
    logLevel: 'warning',
  });
  // The libraries require their addon by package name; the bundle finds it beside itself.
  let text = readFileSync(temp, 'utf8');
  for (const a of ADDONS) {
    const quoted = JSON.stringify(a.spec);
    const count = text.split(quoted).length - 1;
    if (count !== 1) throw new Error(`bundle: expected one require of ${a.spec}, found ${count}`);
    const file = path.basename(a.built);
    text = text.replace(quoted, JSON.stringify(`./addons/${file}`));
    const target = path.join(dist, 'addons', file);
    if (existsSync(a.built)) {
      copyFileSync(a.built, `${target}.${process.pid}.tmp`);
      renameSync(`${target}.${process.pid}.tmp`, target);
    } else rmSync(target, { force: true });
  }
  writeFileSync(temp, text);
  rmSync(codeCachePath, { force: true });
  renameSync(temp, bundlePath);
  rmSync(path.join(dist, 'xl.mjs'), { force: true }); // the ES module bundle of before 2026-12-08
  writeCodeCache();
}

/**
 * The launcher loads the new bundle once with XLKIT_CODE_CACHE_OUT and writes V8's cache of
 * it there. Without a cache (this failed, another Node) xl only starts slower.
 */
function writeCodeCache() {
  const temp = `${codeCachePath}.${process.pid}.tmp`;
  try {
    execFileSync(process.execPath, [path.join(appDir, 'bin', 'xl.js')], {
      env: { ...process.env, XLKIT_CODE_CACHE_OUT: temp },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    renameSync(temp, codeCachePath);
  } catch (err) {
    rmSync(temp, { force: true });
    console.error(`bundle: no code cache (${err instanceof Error ? err.message : String(err)})`);
  }
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildBundle();
  console.error(`built ${path.relative(process.cwd(), bundlePath) || bundlePath}`);
}
