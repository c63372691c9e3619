/**
 * The harness's shape, read from its imports (type-only imports count: a type cycle is still a knot):
 *   base modules (src/harness/*.ts: clock, faults, certs, http, …)  →  services/  →  env/ and fleet/
 *   →  the composition (harness.ts, state-dir.ts, fleet/simulate.ts)  →  index.ts, the public API.
 * No file imports one that imports it back, the services know nothing of devices or the simulation, and the
 * harness reaches into the checker only for src/'s shared modules.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../../src/harness');
const COMPOSITION = new Set(['harness.ts', 'index.ts', 'report.ts', 'state-dir.ts']);

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

const graph = new Map<string, string[]>();
for (const file of files(ROOT)) {
  const text = readFileSync(file, 'utf8');
  const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((m) =>
    relative(ROOT, resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts'))),
  );
  graph.set(relative(ROOT, file), targets);
}

const layerOf = (file: string): string => (file.includes('/') ? file.split('/')[0]! : COMPOSITION.has(file) ? 'composition' : 'base');

describe('harness layout', () => {
  it('has the folders of its layout and reads every import', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    expect([...layers].sort()).toEqual(['base', 'composition', 'env', 'fleet', 'services']);
    expect(graph.get('index.ts')!.length).toBeGreaterThan(10);
  });

  it('no import cycle between files', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const next of graph.get(file) ?? []) if (graph.has(next)) visit(next, [...path, file]);
      state.set(file, 'done');
    };
    for (const file of graph.keys()) visit(file, []);
    expect(cycles).toEqual([]);
  });

  it('base modules import only base modules, and services only base modules and services', () => {
    const allowed: Record<string, string[]> = { base: ['base'], services: ['base', 'services'] };
    const wrong: string[] = [];
    for (const [file, targets] of graph) {
      const may = allowed[layerOf(file)];
      if (!may) continue;
      for (const t of targets) if (graph.has(t) && !may.includes(layerOf(t))) wrong.push(`${file} → ${t}`);
    }
    expect(wrong).toEqual([]);
  });

  it('reaches outside the harness only into the shared modules of src (errors, signals), never into a checker layer', () => {
    const outside = new Set([...graph.values()].flat().filter((t) => t.startsWith('..')));
    expect(outside.size).toBeGreaterThan(0);
    expect([...outside].filter((t) => !/^\.\.\/[a-z-]+\.ts$/.test(t))).toEqual([]);
  });
});
