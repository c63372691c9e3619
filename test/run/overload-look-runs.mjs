// Runs rule sets in this process with the event loop standing still on purpose, from `stall[0]` to `stall[1]` ms
// after the run starts (in a setImmediate, as a burst of pushcheck's own work in I/O callbacks would: the timers due
// then run before the loop polls again), and prints one JSON line: the report, and how long the loop stood still over
// the run (stall.ts's figure). overload-look.test.ts runs it in the client namespace of a fault network
// (test/faults/netns.ts), where an nftables rule of the server namespace drops SYNs.
//   node test/run/overload-look-runs.mjs '{ "ruleSets": [...], "settings": {...}, "stall": [950, 1260], "warmUp": [...] }'
// `settings`: checkSettings() overrides (a proxy as { protocol, host, port }); `warmUp`: rule sets run first, on a free
// loop, so that the code the run needs is compiled before it (compiling would count as standing still too). Imports the built dist/ (run
// `npm run build` first), so that it runs with plain Node in a namespace.
import { runChecks } from '../../dist/run/run.js';
import { checkSettings } from '../../dist/run/settings.js';
import { stalledMs, watchStalls } from '../../dist/run/stall.js';

const { ruleSets, settings, stall, warmUp } = JSON.parse(process.argv[2] ?? '{}');
if (warmUp) await runChecks(warmUp, checkSettings({ timeoutMs: settings.timeoutMs }));
const stopWatching = watchStalls();
const stalledBefore = stalledMs();
const started = performance.now();
let timer;
if (stall) {
  const [fromMs, toMs] = stall;
  timer = setTimeout(
    () =>
      setImmediate(() => {
        while (performance.now() < started + toMs) {
          // standing still
        }
      }),
    fromMs,
  );
}
try {
  const report = await runChecks(ruleSets, checkSettings(settings));
  process.stdout.write(`${JSON.stringify({ report, stalledMs: stalledMs() - stalledBefore })}\n`);
} finally {
  clearTimeout(timer);
  stopWatching();
}
