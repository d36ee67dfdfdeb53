/**
 * The app's layering, enforced: every relative import of production code (tests excluded)
 * must go to a strictly lower layer or stay in its own folder, and no file imports itself
 * back through a cycle. Lower layers never reach up into the migration flows or the commands,
 * and only the command layer applies the test-only instruments of testing/; nothing outside
 * testing/ names a fault.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.dirname(fileURLToPath(import.meta.url));

/** Top to bottom. A folder (or a top-level file, by its name) may import only what ranks lower. */
const RANK: Record<string, number> = {
  'index.ts': 10,
  'main.ts': 9.5,
  'command-table.ts': 9,
  commands: 8,
  testing: 7,
  migrate: 6,
  mirror: 5,
  ram: 5,
  tunnel: 4,
  link: 4,
  domain: 3,
  qemu: 2.5,
  store: 2,
  config: 1,
  host: 1,
  progress: 1,
  'help.ts': 0.5,
  'command.ts': 0,
  'errors.ts': 0,
  'settle-within.ts': 0,
  'raced.ts': 0,
};

function productionFiles(dir = ROOT): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const f = path.join(dir, e.name);
    if (e.isDirectory()) return productionFiles(f);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [f] : [];
  });
}

function importsOf(file: string): string[] {
  const src = readFileSync(file, 'utf8');
  return [...src.matchAll(/(?:from|import)\s*\(?\s*'(\.{1,2}\/[^']+)'/g)].map((m) =>
    path.resolve(path.dirname(file), m[1]!.replace(/\.js$/, '.ts')),
  );
}

/** The layer a file belongs to: its top folder under src/, or its own name at the top. */
const layerOf = (file: string): string => path.relative(ROOT, file).split(path.sep)[0]!;

const files = productionFiles();
const graph = new Map(files.map((f) => [f, importsOf(f)]));

describe('apps/xl/src layering', () => {
  it('every folder and top-level file has a rank', () => {
    expect([...new Set(files.map(layerOf))].filter((l) => RANK[l] === undefined)).toEqual([]);
  });

  it('imports only go down (or stay inside their folder)', () => {
    const upward: string[] = [];
    for (const [file, deps] of graph) {
      for (const dep of deps) {
        const from = layerOf(file);
        const to = layerOf(dep);
        if (from !== to && !(RANK[to]! < RANK[from]!))
          upward.push(`${path.relative(ROOT, file)} -> ${path.relative(ROOT, dep)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  it('has no import cycle between files', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (f: string, trail: string[]): void => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(f)), f].map((x) => path.relative(ROOT, x)).join(' -> '));
        return;
      }
      state.set(f, 'open');
      for (const d of graph.get(f) ?? []) visit(d, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  it('names no fault outside testing/', () => {
    const faults = readFileSync(path.join(ROOT, 'testing', 'faults.ts'), 'utf8');
    const kebab = [...faults.matchAll(/name === '([a-z-]+)'/g)].map((m) => m[1]!);
    const camel = [...faults.matchAll(/^\s+([a-zA-Z]+)\?:/gm)].map((m) => m[1]!);
    expect(kebab.length).toBeGreaterThan(5);
    expect(camel.length).toBeGreaterThan(5);
    const names = ['XLKIT_FAULT', ...kebab, ...camel.map((c) => new RegExp(`\\b${c}\\b`))];
    const hits = files
      .filter((f) => layerOf(f) !== 'testing')
      .flatMap((f) => {
        const src = readFileSync(f, 'utf8');
        return names
          .filter((n) =>
            typeof n === 'string'
              ? src.includes(`'${n}`) || src.includes(n.toUpperCase() === n ? n : `${n}:`)
              : n.test(src),
          )
          .map((n) => `${path.relative(ROOT, f)}: ${String(n)}`);
      });
    expect(hits).toEqual([]);
  });
});
