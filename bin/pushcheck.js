#!/usr/bin/env node
// The CLI is bundled (scripts/bundle.mjs); a bug's stack trace is mapped back to src/ (src/cli/source-stack.ts).
// Node 22+ also keeps a compile cache of it between runs.
import module from 'node:module';
module.enableCompileCache?.();
await import('../dist/bundle/main.js');
