// Bundles the CLI into dist/bundle/ (run by `npm run build`): one file for start-up, one chunk per command
// loaded on demand, every dependency inlined. Loading ~150 small ES modules from dist/ and node_modules/ costs
// more than reading one file, and the installed package needs nothing from node_modules/ at run time.
// Source maps keep stack traces pointing at src/ (src/cli/source-stack.ts maps them on a bug).
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

// Chunk names change with their content: old ones would pile up and ship.
rmSync('dist/bundle', { recursive: true, force: true });

const common = { bundle: true, platform: 'node', target: 'node20', sourcemap: 'linked', sourcesContent: false, logLevel: 'warning' };

await build({
  ...common,
  // The demo's servers run in a worker thread, which needs a file of its own.
  entryPoints: { main: 'src/cli/main.ts', 'demo-worker': 'src/demo/worker.ts' },
  outdir: 'dist/bundle',
  splitting: true,
  format: 'esm',
  // CommonJS dependencies (cli-table3, @peculiar/x509's) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __pushcheckRequire } from 'node:module'; const require = __pushcheckRequire(import.meta.url);" },
  chunkNames: 'chunks/[name]-[hash]',
});

// The first file bin/pushcheck.js loads (src/cli/start.ts), as CommonJS: help and version without Node's ES module
// loader, and program.cjs (src/cli/program.ts: commander), which bin/pushcheck.js requires for the help only.
// Neither loads a command (main.js does), so the registry's import()s stay out of them.
const cjs = {
  ...common,
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  define: { 'import.meta.url': '__pushcheckFileUrl' },
  banner: { js: "const __pushcheckFileUrl = require('node:url').pathToFileURL(__filename).href;" },
};
await build({
  ...cjs,
  entryPoints: { start: 'src/cli/start.ts', program: 'src/cli/program.ts' },
  plugins: [{ name: 'no-commands', setup: (b) => b.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined)) }],
});
