// `npm run build:sea`: pushcheck as one executable file for this platform, with Node's single executable
// application support: dist/sea/pushcheck-<platform>-<arch>. It runs where no Node.js is installed.
//  1. esbuild bundles the CLI into one CommonJS file (what a single executable runs; no chunks, no top-level await);
//  2. rules/, schemas/, package.json, the rule summaries (dist/rule-summaries.json, so that `rules list` reads them
//     instead of parsing every rule file) and the parsed rule sets (dist/rule-sets.json, whose id the bundle carries as
//     dist/bundle/ does, so that a check does not parse its rule set; both after the same checks as elsewhere)
//     become assets (src/sea-assets.ts unpacks them on first run);
//  3. node --experimental-sea-config makes the blob, with V8's code cache of the bundle (useCodeCache: the executable
//     compiles none of its JavaScript at start; see docs/install.md for the figures), and postject injects it into a
//     copy of this Node binary. PUSHCHECK_SEA_CODE_CACHE=0 builds one without, for the benchmark.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { build } from 'esbuild';
import { oneByteOnly } from './one-byte.mjs';
import { builtinNames } from '../dist/rules/builtin.js';

const out = 'dist/sea';
const name = `pushcheck-${process.platform}-${process.arch}${process.platform === 'win32' ? '.exe' : ''}`;
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// Written by `npm run build` (scripts/bundle.mjs), which build:sea runs first.
const ruleSets = 'dist/rule-sets.json';
const { id: ruleSetsId } = JSON.parse(readFileSync(ruleSets, 'utf8'));

await build({
  entryPoints: ['src/cli/sea-main.ts'],
  outfile: `${out}/pushcheck.cjs`,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  logLevel: 'warning',
  // import.meta.url has no meaning here: package-root.ts is told where the unpacked assets are instead.
  define: { 'import.meta.url': 'undefined', PUSHCHECK_RULE_SETS_ID: JSON.stringify(ruleSetsId) },
});
// One byte a character, as dist/bundle/'s: Node makes the executable's 4.5 MB of JavaScript a string of one byte a character.
await oneByteOnly(`${out}/pushcheck.cjs`);

const files = [
  'package.json',
  // Written by `npm run build` (scripts/bundle.mjs), which build:sea runs first.
  'dist/rule-summaries.json',
  ruleSets,
  // The built-in rule files as a run finds them (.yaml and .yml), not a pattern of this script's own: one that took
  // .yaml only would leave a built-in .yml out of the executable alone, where its id would be unknown.
  ...builtinNames().map(({ file }) => `rules/${path.basename(file)}`),
  ...readdirSync('schemas').filter((f) => f.endsWith('.json')).map((f) => `schemas/${f}`),
];
writeFileSync(`${out}/manifest.json`, JSON.stringify(files));
const assets = Object.fromEntries([['manifest.json', `${out}/manifest.json`], ...files.map((f) => [f, f])]);
writeFileSync(
  `${out}/sea-config.json`,
  JSON.stringify(
    {
      main: `${out}/pushcheck.cjs`,
      output: `${out}/sea-prep.blob`,
      disableExperimentalSEAWarning: true,
      useCodeCache: process.env.PUSHCHECK_SEA_CODE_CACHE !== '0',
      assets,
    },
    null,
    2,
  ),
);
execFileSync(process.execPath, ['--experimental-sea-config', `${out}/sea-config.json`], { stdio: 'inherit' });

const binary = path.join(out, name);
copyFileSync(process.execPath, binary);
chmodSync(binary, 0o755);
const macos = process.platform === 'darwin';
if (macos) execFileSync('codesign', ['--remove-signature', binary]);
const postject = createRequire(import.meta.url).resolve('postject/dist/cli.js');
execFileSync(
  process.execPath,
  [postject, binary, 'NODE_SEA_BLOB', `${out}/sea-prep.blob`, '--sentinel-fuse', 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2', ...(macos ? ['--macho-segment-name', 'NODE_SEA'] : [])],
  { stdio: 'inherit' },
);
if (macos) execFileSync('codesign', ['--sign', '-', binary]);
console.log(`built ${binary}`);
