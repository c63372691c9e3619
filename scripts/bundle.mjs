// Bundles the CLI into dist/bundle/ (run by `npm run build`): one file for start-up, one chunk per command
// loaded on demand, every dependency inlined. Loading ~150 small ES modules from dist/ and node_modules/ costs
// more than reading one file, and the installed package needs nothing from node_modules/ at run time.
// Source maps (bin/pushcheck.js turns them on) keep stack traces pointing at src/.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names change with their content: old ones would pile up and ship.
rmSync('dist/bundle', { recursive: true, force: true });

await build({
  // The demo's servers run in a worker thread, which needs a file of its own.
  entryPoints: { main: 'src/cli/main.ts', 'demo-worker': 'src/demo/worker.ts' },
  outdir: 'dist/bundle',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  sourcesContent: false,
  logLevel: 'warning',
  // CommonJS dependencies (cli-table3, @peculiar/x509's) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __pushcheckRequire } from 'node:module'; const require = __pushcheckRequire(import.meta.url);" },
  chunkNames: 'chunks/[name]-[hash]',
});
