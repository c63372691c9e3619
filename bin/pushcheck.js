#!/bin/sh
":" //; unset PUSHCHECK_DEFERRED_EXTRA_CA_CERTS; case " $NODE_OPTIONS" in *--use-openssl-ca*|*--use-bundled-ca*|*--use-system-ca*|*" -r"*|*--require*|*--import*|*-loader*) ;; *) if [ -n "$NODE_EXTRA_CA_CERTS" ] && [ -z "$NODE_USE_SYSTEM_CA" ]; then export PUSHCHECK_DEFERRED_EXTRA_CA_CERTS="$$:$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS; fi;; esac
":" //; exec node "$0" "$@"
// Run as a program (npm's `pushcheck`, npx), this file is first a shell script (the two lines above; to JavaScript
// they are strings and comments): Node 20 parses a NODE_EXTRA_CA_CERTS file while it starts, before any JavaScript,
// 70 ms for a system bundle of 140 CAs (nodejs/node#40524). The script starts Node without it and hands it over as
// "<pid>:<path>"; src/extra-ca-certs.ts puts it back for anything pushcheck starts, and src/trust.ts adds its CAs to
// every TLS context, read at the first one. Not when NODE_OPTIONS picks a CA store or preloads code (which may
// speak TLS before pushcheck does), nor with NODE_USE_SYSTEM_CA. `exec`: node keeps the shell's pid, signals and
// exit code. `node bin/pushcheck.js` skips the script and starts as always.
// CommonJS (bin/package.json says so): on Node 20 an ES module entry costs more than `pushcheck --help` itself.
// start.cjs answers help and version (src/cli/start.ts), the help as the build stored it or, where commander must
// write it (a terminal of another width), with program.cjs; the check and rules commands run
// from check.cjs and rules.cjs; those three with V8's code cache (src/cli/code-cache.ts), any other command from the
// ES module bundle. Stack traces are mapped back to src/ on a bug
// (src/cli/source-stack.ts). Node 22+ also keeps a compile cache of them all.
'use strict';
// Node 20 has no compile cache to enable, so node:module is not loaded for it: with the ES module loader behind it, 40%
// of what `pushcheck --version` added to Node's own start (src/cli/source-stack.ts loads it only for a bug).
if (!process.versions.node.startsWith('20.')) require('node:module').enableCompileCache?.();
require('../dist/bundle/start.cjs').start(process.argv, {
  program: () => require('../dist/bundle/code-cache.cjs').requireWithCodeCache(`${__dirname}/../dist/bundle/program.cjs`),
  command: (name) => require('../dist/bundle/code-cache.cjs').requireWithCodeCache(`${__dirname}/../dist/bundle/${name}.cjs`),
  main: () => import('../dist/bundle/main.js'),
});
