#!/usr/bin/env node
// CommonJS (bin/package.json says so): on Node 20 an ES module entry costs more than `pushcheck --help` itself.
// start.cjs answers help and version (src/cli/start.ts); a command runs from the ES module bundle, whose stack
// traces are mapped back to src/ on a bug (src/cli/source-stack.ts). Node 22+ keeps a compile cache of them all.
'use strict';
require('node:module').enableCompileCache?.();
require('../dist/bundle/start.cjs').start(process.argv, {
  program: () => require('../dist/bundle/program.cjs'),
  main: () => import('../dist/bundle/main.js'),
});
