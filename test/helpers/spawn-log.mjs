// Counts the CLI's start-ups during a test run: preloaded into every Node process with
// `PUSHCHECK_SPAWN_LOG=FILE NODE_OPTIONS="--import $PWD/test/helpers/spawn-log.mjs" npx vitest run` (an absolute
// path: the package tests run npm and node in other folders), it appends one line per pushcheck process (which test
// started it, with what arguments); `wc -l FILE` counts them. test/setup/spawn-log.ts names the test. Processes
// given an environment of their own (the packed and single-file binaries in test/ship) are not counted.
import { appendFileSync } from 'node:fs';

const script = process.argv[1] ?? '';
if (process.env.PUSHCHECK_SPAWN_LOG && /(bin\/pushcheck\.js|dist\/(bundle|cli)\/main\.js|\/pushcheck)$/.test(script)) {
  const line = { from: process.env.PUSHCHECK_SPAWN_FROM ?? '?', script, args: process.argv.slice(2) };
  appendFileSync(process.env.PUSHCHECK_SPAWN_LOG, `${JSON.stringify(line)}\n`);
}
