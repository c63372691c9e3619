// The benchmarks (bench/*.js) import pushcheck's built modules by name, and no test runs them: scale.bench.js kept
// importing `formats` for months after the report registry stopped exporting it, and `npm run bench` failed there.
// This holds every named import of a built module in bench/ against what that module exports now.
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const benchDir = fileURLToPath(new URL('../../bench/', import.meta.url));
const IMPORT = /import\s*\{([^}]*)\}\s*from\s*'(\.\.\/dist\/[^']+)'/g;

const imports = readdirSync(benchDir)
  .filter((file) => file.endsWith('.js') || file.endsWith('.mjs') || file.endsWith('.cjs'))
  .flatMap((file) =>
    [...readFileSync(`${benchDir}${file}`, 'utf8').matchAll(IMPORT)].map(([, names = '', specifier = '']) => ({
      file,
      specifier,
      // `a as b` imports a.
      names: names.split(',').map((name) => name.trim().split(/\s+as\s+/)[0] ?? '').filter(Boolean),
    })),
  );

describe('bench/ imports of the built modules', () => {
  it('finds the benchmarks that import built modules (the pattern still matches how they import)', () => {
    expect(new Set(imports.map(({ file }) => file))).toContain('scale.bench.js');
    expect(new Set(imports.map(({ file }) => file))).toContain('cli.bench.js');
  });

  it.each(imports.map((entry) => [`${entry.file}: ${entry.specifier}`, entry] as const))('%s exports every name imported', async (_, { specifier, names }) => {
    const module = (await import(new URL(specifier, `file://${benchDir}`).href)) as Record<string, unknown>;
    const missing = names.filter((name) => module[name] === undefined);
    expect(missing).toEqual([]);
  });
});
