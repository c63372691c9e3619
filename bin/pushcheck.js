#!/usr/bin/env node
// CommonJS (bin/package.json says so): on Node 20 an ES module entry costs more than `pushcheck --help` itself.
// start.cjs answers help and version (src/cli/start.ts); the check command runs from check.cjs with V8's code cache
// (src/cli/code-cache.ts), any other from the ES module bundle. Stack traces are mapped back to src/ on a bug
// (src/cli/source-stack.ts). Node 22+ also keeps a compile cache of them all.
'use strict';
require('node:module').enableCompileCache?.();
require('../dist/bundle/start.cjs').start(process.argv, {
  program: () => require('../dist/bundle/program.cjs'),
  check: () => require('../dist/bundle/code-cache.cjs').requireWithCodeCache(`${__dirname}/../dist/bundle/check.cjs`),
  main: () => import('../dist/bundle/main.js'),
});
