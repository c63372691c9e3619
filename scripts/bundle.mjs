// Bundles the CLI into dist/bundle/ (run by `npm run build`): one file for start-up, one chunk per command
// loaded on demand, every dependency inlined. Loading ~150 small ES modules from dist/ and node_modules/ costs
// more than reading one file, and the installed package needs nothing from node_modules/ at run time.
// Source maps keep stack traces pointing at src/ (src/cli/source-stack.ts maps them on a bug).
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createRequire } from 'node:module';
import { build } from 'esbuild';
import { oneByteOnly } from './one-byte.mjs';
import { builtinNames, summaryOf } from '../dist/rules/builtin.js';
import { commands } from '../dist/cli/commands.js';
import { programHelp } from '../dist/cli/program.js';
import { parseRuleSet } from '../dist/rules/load.js';
import { RULE_SETS_PATH } from '../dist/rules/stored.js';
import { SUMMARIES_PATH } from '../dist/rules/summaries.js';
import { ruleSetTable } from '../dist/cli/rules-table.js';

// Chunk names change with their content: old ones would pile up and ship.
rmSync('dist/bundle', { recursive: true, force: true });

// The built-in rule sets, parsed now (by tsc's output of the same tree) so that a run does not parse them again
// (src/rules/stored.ts), and what `rules list` shows of them (src/rules/summaries.ts), both from one reading of each
// file. The bundles carry the id of this very build; a run uses a stored set only while its file reads as the text
// it was parsed from, which is stored once, with the summaries.
const parsed = builtinNames().map(({ file }) => {
  // The set parsed from the very text stored with it (as src/rules/builtin.ts parses it), read once.
  const text = readFileSync(file, 'utf8');
  const set = parseRuleSet(text, file, true);
  if (!isDeepStrictEqual(JSON.parse(JSON.stringify(set)), set)) throw new Error(`${file}: its rule set does not survive JSON; it cannot be stored`);
  return { name: basename(file), text, set };
});
const texts = Object.fromEntries(parsed.map(({ name, text }) => [name, text]));
const sets = Object.fromEntries(parsed.map(({ name, set }) => [name, set]));
const ruleSetsId = createHash('sha256').update(JSON.stringify({ texts, sets })).digest('hex').slice(0, 16);
writeFileSync(RULE_SETS_PATH, `${JSON.stringify({ id: ruleSetsId, sets })}\n`);
// In `rules list` order (builtinNames sorts by id), with the table the CLI prints of them.
const summaries = parsed.map(({ set }) => summaryOf(set));
writeFileSync(SUMMARIES_PATH, `${JSON.stringify({ id: ruleSetsId, files: texts, summaries, table: ruleSetTable(summaries) })}\n`);

// commander requires node:child_process when it loads, for executable subcommands, which pushcheck has none of;
// loading it cost every start 2–3 ms (more on a busy machine). commander gets it on first use instead.
const lazyChildProcess = {
  name: 'lazy-child-process',
  setup: (b) => {
    b.onResolve({ filter: /^node:child_process$/ }, (args) => (/[\\/]node_modules[\\/]commander[\\/]/.test(args.importer) ? { path: 'child_process', namespace: 'lazy' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'lazy' }, () => ({
      contents: "let loaded; module.exports = new Proxy({}, { get: (_, key) => (loaded ??= require('node:child_process'))[key] });",
    }));
  },
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  sourcemap: 'linked',
  sourcesContent: false,
  // Whitespace only (names and syntax stay, so stack traces read as before, and map to src/ by line and column):
  // a check reads, decodes and keeps check.cjs's text (526 -> 372 KB), and compiles start.cjs and code-cache.cjs
  // from source on every start (docs/contributing.md, "Start to first connect").
  minifyWhitespace: true,
  logLevel: 'warning',
  // PUSHCHECK_BUILD_ID: new at every build, so that what a run keeps of a user's rule file (src/rules/parsed.ts)
  // counts only for the code that parsed it.
  // PUSHCHECK_VERSION: package.json's version (src/version.ts), so that no start reads package.json for it.
  define: {
    PUSHCHECK_RULE_SETS_ID: JSON.stringify(ruleSetsId),
    PUSHCHECK_BUILD_ID: JSON.stringify(randomUUID()),
    PUSHCHECK_VERSION: JSON.stringify(JSON.parse(readFileSync('package.json', 'utf8')).version),
  },
};

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
  plugins: [lazyChildProcess],
});

// The first file bin/pushcheck.js loads (src/cli/start.ts), as CommonJS: help and version without Node's ES module
// loader, and program.cjs (src/cli/program.ts: commander), which bin/pushcheck.js requires for the help only, and
// code-cache.cjs, which runs program.cjs, check.cjs and rules.cjs (below).
// None of them loads a command (check.cjs, rules.cjs and main.js do), so the registry's import()s stay out of them.
const cjs = {
  ...common,
  outdir: 'dist/bundle',
  outExtension: { '.js': '.cjs' },
  format: 'cjs',
  // import.meta.url made on first use (src/package-root.ts, when a file of the package is wanted): made at load, it
  // was node:url's pathToFileURL in every run's start, where a check of a user's rule file wants no such file.
  define: { ...common.define, 'import.meta.url': '__pushcheckMeta.url' },
  banner: { js: "const __pushcheckMeta = { get url() { return require('node:url').pathToFileURL(__filename).href; } };" },
};
// The program's own help as commander writes it (program.ts, tsc's output of the same tree): start.cjs prints it
// without loading commander when commander would write the same (src/cli/start.ts says when). For a stdout that is
// not a terminal; the same text must come for a terminal of the width commander then uses, in colour or not, or
// start.ts's test of when it may print it would not hold.
const programHelpText = programHelp(undefined, false);
const programHelpColumns = 80;
for (const [columns, colour] of [[programHelpColumns, false], [undefined, true], [programHelpColumns, true]]) {
  if (programHelp(columns, colour) !== programHelpText) throw new Error(`the program's help differs at ${columns ?? 'no'} columns${colour ? ' in colour' : ''}: src/cli/start.ts would print it wrong`);
}
await build({
  ...cjs,
  define: { ...cjs.define, PUSHCHECK_PROGRAM_HELP: JSON.stringify({ text: programHelpText, columns: programHelpColumns }) },
  entryPoints: { start: 'src/cli/start.ts', program: 'src/cli/program.ts', 'code-cache': 'src/cli/code-cache.ts' },
  plugins: [lazyChildProcess, { name: 'no-commands', setup: (b) => b.onResolve({ filter: /.*/ }, (args) => (args.kind === 'dynamic-import' ? { path: args.path, external: true } : undefined)) }],
});

// The check command (`pushcheck ios`, `pushcheck rules.yaml`) as one CommonJS file, check.cjs, which
// bin/pushcheck.js runs through V8's code cache (src/cli/code-cache.ts): Node 20 caches no ES module's compiled
// code, and compiling the check path again on every run was about a third of pushcheck's own time before its first
// connect. The libraries a check loads only on demand (undici for an https check, ora on a terminal, node-forge and
// x509 for credentials, basic-ftp for a write check, yaml for a rule file not parsed before (src/rules/parsed.ts);
// ajv, should it ever be reached) stay out of it, each in a CommonJS file of its own under lib/, run through the code
// cache as well: the file read and cached on every run holds what every run executes. The rules command has a file of
// its own the same way (rules.cjs): from main.js, `rules list` spent more on Node 20's ES module loader than on its
// work. Other commands are in neither (start.ts runs them from main.js).
const onDemand = ['undici', 'ora', 'ajv', 'node-forge', '@peculiar/x509', 'basic-ftp', 'yaml', 'chalk', 'cli-table3'];
// Imported by a module that every check initialises (yaml by src/rules/load.ts): check.cjs gets an object whose
// exports load the library when first used. The others are imported where they are used, and load then.
const onFirstUse = new Set(['yaml']);
const libraryFile = (specifier) => `lib/${specifier.replace(/^@/, '').replace(/\.js$/, '').replace(/[^\w.-]+/g, '-')}`;
const libraries = new Map();
/** Builds dist/bundle/<command>.cjs: main.ts with only that command's module (src/cli/<command>.ts) in it. */
const commandBundle = (command) =>
  build({
    ...cjs,
    entryPoints: { [command]: 'src/cli/main.ts' },
    // import() becomes require(): a script run by vm.Script has no ES module loader to import with.
    supported: { 'dynamic-import': false },
    metafile: true,
    plugins: [
      lazyChildProcess,
      {
        name: `${command}-only`,
        setup: (b) => {
          b.onResolve({ filter: /^[^./]/ }, (args) => {
            if (!onDemand.some((name) => args.path === name || args.path.startsWith(`${name}/`))) return undefined;
            const file = `./${libraryFile(args.path)}.cjs`;
            libraries.set(file, args.path);
            return { path: file, namespace: 'on-demand' };
          });
          b.onResolve({ filter: /^\.\/code-cache\.cjs$/ }, (args) => (args.namespace === 'on-demand' ? { path: args.path, external: true } : undefined));
          b.onLoad({ filter: /.*/, namespace: 'on-demand' }, (args) => {
            const load = `require('./code-cache.cjs').requireWithCodeCache(require('node:path').join(__dirname, ${JSON.stringify(args.path)}))`;
            const specifier = libraries.get(args.path);
            if (!onFirstUse.has(specifier)) return { contents: `module.exports = ${load};\n`, loader: 'js' };
            const names = Object.keys(createRequire(import.meta.url)(specifier)).filter((name) => name !== 'default' && name !== '__esModule');
            return {
              contents: `let loaded;\nconst library = () => (loaded ??= ${load});\nfor (const name of ${JSON.stringify(names)}) Object.defineProperty(exports, name, { enumerable: true, get: () => library()[name] });\n`,
              loader: 'js',
            };
          });
          b.onResolve({ filter: /^\.\/[\w-]+\.js$/ }, (args) =>
            args.importer.endsWith('commands.ts') && args.path !== `./${command}.js` ? { path: args.path, namespace: 'other-command' } : undefined,
          );
          b.onLoad({ filter: /.*/, namespace: 'other-command' }, (args) => ({
            contents: `throw new Error('pushcheck bug: ${args.path} is not in ${command}.cjs; start.ts runs it from another bundle');`,
          }));
        },
      },
    ],
  });
// One for each command the registry marks `bundled` (src/cli/commands.ts), which start.ts runs from its bundle.
const commandBuilds = await Promise.all(commands.filter((command) => command.bundled).map((command) => commandBundle(command.name)));
// Each library check.cjs or rules.cjs still requires once unused code is dropped (ajv's report reader is not on the check path).
const required = commandBuilds
  .flatMap((built) => Object.values(built.metafile.outputs))
  .flatMap((output) => Object.entries(output.inputs))
  .filter(([input, { bytesInOutput }]) => input.startsWith('on-demand:') && bytesInOutput > 0)
  .map(([input]) => input.slice('on-demand:'.length));
// check.cjs imports them as Node imports CommonJS from an ES module: the default export is module.exports. So a
// library written as an ES module (ora) exports its default export, with its named ones on it.
await build({
  ...cjs,
  entryPoints: Object.fromEntries([...new Set(required)].map((file) => [file.slice(2, -4), `library:${libraries.get(file)}`])),
  plugins: [
    {
      name: 'library',
      setup: (b) => {
        b.onResolve({ filter: /^library:/ }, (args) => ({ path: args.path.slice('library:'.length), namespace: 'library' }));
        b.onLoad({ filter: /.*/, namespace: 'library' }, (args) => ({
          resolveDir: process.cwd(),
          contents: `const m = require(${JSON.stringify(args.path)});\nmodule.exports = m && m.__esModule && typeof m.default === 'function' ? Object.assign(m.default, m) : m;\n`,
        }));
      },
    },
  ],
});

// Every bundle one byte a character: ASCII, but for Latin-1 letters in licences (scripts/one-byte.mjs says why).
for (const entry of readdirSync('dist/bundle', { recursive: true, withFileTypes: true })) {
  if (entry.isFile() && /\.c?js$/.test(entry.name)) await oneByteOnly(`${entry.parentPath}/${entry.name}`);
}
