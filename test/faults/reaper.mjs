// The reaper of a test process that makes fault networks (see cleanup.mjs for why): reads `+namespace NAME`,
// `+folder PATH` (remove it if the test process dies) and `-namespace NAME` (removed) lines on stdin, a pipe from the
// test process; at its end, which comes when the test process is gone however it ended, removes what is still
// listed and exits. Started detached by cleanup.mjs; Node built-ins only.
import { removeSync } from './cleanup.mjs';

const listed = new Set();
let pending = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  pending += chunk;
  const lines = pending.split('\n');
  pending = lines.pop() ?? '';
  for (const line of lines) {
    if (line.startsWith('+')) listed.add(line.slice(1));
    else if (line.startsWith('-')) listed.delete(line.slice(1));
  }
});
const reap = () => {
  // Namespaces first: a folder may hold a file a process in one still has open.
  const entries = [...listed].sort((a, b) => Number(b.startsWith('namespace')) - Number(a.startsWith('namespace')));
  for (const entry of entries) removeSync(entry);
  process.exit(0);
};
process.stdin.once('end', reap);
process.stdin.once('error', reap);
