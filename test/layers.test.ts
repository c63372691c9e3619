/**
 * Layers import downwards only: cli (and src/index.ts, the library entry) → serve → report → run → findings → rules
 * → credentials → probes → shared (src/*.ts: types, errors, secrets, verdict, fields, version). serve (the exporter)
 * runs checks and renders them, as the CLI does; findings (pure functions over results) sit under run, which puts
 * them in every report, and under report, which draws them for reports saved before they existed; credentials
 * (`pushcheck cert`) checks APNs credential files with the probes' failure codes. The harness and the demo are
 * wings beside them: the harness stands on shared alone
 * (it is shipped as `pushcheck/harness` and must not drag the checker in); the demo builds its network from rule
 * sets and the probe registry and serves it with the harness's certificates and endpoints. Only the CLI reaches a
 * wing. Type-only imports count: a type cycle is still a knot for the reader. No file may import itself through others.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve(import.meta.dirname, '../src');

type Layer = 'cli' | 'serve' | 'report' | 'run' | 'findings' | 'rules' | 'credentials' | 'probes' | 'shared' | 'harness' | 'demo';

/** What each layer may import besides itself. */
const ALLOWED: Record<Layer, readonly Layer[]> = {
  cli: ['serve', 'report', 'run', 'findings', 'rules', 'credentials', 'probes', 'shared', 'harness', 'demo'],
  serve: ['report', 'run', 'findings', 'rules', 'credentials', 'probes', 'shared'],
  report: ['run', 'findings', 'rules', 'credentials', 'probes', 'shared'],
  run: ['findings', 'rules', 'credentials', 'probes', 'shared'],
  findings: ['rules', 'credentials', 'probes', 'shared'],
  rules: ['credentials', 'probes', 'shared'],
  credentials: ['probes', 'shared'],
  probes: ['shared'],
  shared: [],
  harness: ['shared'],
  demo: ['harness', 'rules', 'probes', 'shared'],
};

function layerOf(file: string): Layer {
  const [top, ...rest] = path.relative(SRC, file).split(path.sep);
  // The package's library entry (`import … from 'pushcheck'`) stands where the CLI does: on top of the checker.
  if (rest.length === 0 && top === 'index.ts') return 'cli';
  if (rest.length === 0) return 'shared';
  if (top !== undefined && top in ALLOWED && top !== 'shared') return top as Layer;
  throw new Error(`${file}: a folder of src/ that has no place in the layer order; add it to ALLOWED in ${import.meta.filename}`);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sourceFiles(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : [],
  );
}

/** `from '…'`, `import '…'` and `import('…')` of a relative module, type-only ones included, comments left out. */
function relativeImports(file: string): string[] {
  const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specifiers = [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)].map((m) => m[1] as string);
  return specifiers.map((spec) => path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts')));
}

const files = sourceFiles(SRC);
const graph = new Map(files.map((file) => [file, relativeImports(file)]));
const name = (file: string): string => path.relative(SRC, file);

function upwardImports(imports: ReadonlyMap<string, string[]>): string[] {
  return [...imports].flatMap(([file, targets]) =>
    targets
      .filter((imported) => layerOf(file) !== layerOf(imported) && !ALLOWED[layerOf(file)].includes(layerOf(imported)))
      .map((imported) => `${name(file)} (${layerOf(file)}) → ${name(imported)} (${layerOf(imported)})`),
  );
}

describe('layers', () => {
  it('finds the source and its imports (so that the checks below have something to check)', () => {
    expect(files.length).toBeGreaterThan(50);
    expect([...graph.values()].flat().length).toBeGreaterThan(150);
    for (const [file, imports] of graph) {
      for (const imported of imports) expect(files, `${name(file)} imports a missing ${name(imported)}`).toContain(imported);
    }
  });

  it('knows an upward import when it sees one (the imports this test was written to stop)', () => {
    const at = (file: string): string => path.join(SRC, file);
    const before = new Map([
      [at('probes/proxy.ts'), [at('report/redact.ts'), at('probes/classify.ts')]],
      [at('run/run.ts'), [at('report/json.ts'), at('types.ts')]],
      [at('harness/harness.ts'), [at('probes/tls.ts')]],
      [at('demo/servers.ts'), [at('cli/demo.ts'), at('harness/certs.ts')]],
    ]);
    expect(upwardImports(before)).toEqual([
      'probes/proxy.ts (probes) → report/redact.ts (report)',
      'run/run.ts (run) → report/json.ts (report)',
      'harness/harness.ts (harness) → probes/tls.ts (probes)',
      'demo/servers.ts (demo) → cli/demo.ts (cli)',
    ]);
  });

  it('imports only downwards, and into a wing only from the CLI', () => {
    expect(upwardImports(graph)).toEqual([]);
  });

  it('has no import cycle', () => {
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (file: string, trail: string[]): void => {
      if (state.get(file) === 'done') return;
      if (state.get(file) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(file)), file].map(name).join(' → '));
        return;
      }
      state.set(file, 'open');
      for (const imported of graph.get(file) ?? []) visit(imported, [...trail, file]);
      state.set(file, 'done');
    };
    for (const file of files) visit(file, []);
    expect(cycles).toEqual([]);
  });
});
