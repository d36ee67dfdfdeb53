// Builds xl's bundle: dist/xl.mjs, one esbuild bundle of src/main.ts and of everything it
// imports (the workspace libraries, execa, binary-parser), so an installed xl needs no other
// package; the workspace's native addons are copied beside it (dist/addons/) and the bundle
// loads them from there. `npm run build -w @xlkit/xl` and `npm pack` run it; in a checkout the
// launcher (bin/xl.js) also runs it whenever a source is newer than the bundle.
//
// execa is bundled: as an external package its ~50 modules took about 90 ms of every start;
// its CommonJS dependencies get `require` from createRequire (banner). The source map keeps
// file:line mapping but not the sources' text, which halves the bundle.
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

export const bundlePath = path.join(appDir, 'dist', 'xl.mjs');

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
    format: 'esm',
    target: 'node20',
    outfile: temp,
    sourcemap: 'inline',
    sourcesContent: false,
    banner: {
      js: "import { createRequire as xlCreateRequire } from 'node:module'; const require = xlCreateRequire(import.meta.url);",
    },
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
  renameSync(temp, bundlePath);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildBundle();
  console.error(`built ${path.relative(process.cwd(), bundlePath) || bundlePath}`);
}
