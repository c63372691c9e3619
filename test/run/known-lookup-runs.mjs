// Runs known-lookup.test.ts's rule sets twice in this process, once as they are and once with the run's known lookup
// (ctx.resolved) taken away from every tcp attempt, so that each asks ctx.resolve; optionally with the event loop
// standing still for `blockMs` once the attempts are under way. Prints one JSON line: each run's report, how many
// attempts were handed the lookup, and how long the loop stood still (stall.ts's figure over the run).
//   node test/run/known-lookup-runs.mjs '{ "ruleSets": [...], "records": {...}, "settings": {...}, "blockMs": 500 }'
// `records`: the names of a DNS server this script starts on 127.0.0.1 (the demo's, src/demo/dns-server.ts);
// `settings`: checkSettings() overrides, the DNS server added. Imports the built dist/ (run `npm run build` first),
// so that it runs with plain Node in a network namespace (test/faults/netns.ts), where the dropped port is.
import { startDnsServer } from '../../dist/demo/dns-server.js';
import { tcpProbe } from '../../dist/probes/tcp.js';
import { runChecks } from '../../dist/run/run.js';
import { checkSettings } from '../../dist/run/settings.js';
import { stalledMs, watchStalls } from '../../dist/run/stall.js';

const { ruleSets, records, settings, blockMs = 0 } = JSON.parse(process.argv[2] ?? '{}');
const dns = await startDnsServer({ records });

async function run(shortcut) {
  const original = tcpProbe.run;
  let handed = 0;
  tcpProbe.run = (target, ctx) => {
    if (ctx.resolved) handed += 1;
    return original.call(tcpProbe, target, shortcut ? ctx : { ...ctx, resolved: undefined });
  };
  const stopWatching = watchStalls();
  const stalledBefore = stalledMs();
  const running = runChecks(ruleSets, checkSettings({ ...settings, dnsServer: { host: dns.host, port: dns.port } }));
  if (blockMs) {
    // The loop stands still once the attempts are under way (stall.ts's watch sees it).
    await new Promise((resolve) => setTimeout(resolve, 30));
    const until = performance.now() + blockMs;
    while (performance.now() < until) {
      // standing still
    }
  }
  try {
    const report = await running;
    return { report, handed, stalledMs: stalledMs() - stalledBefore };
  } finally {
    stopWatching();
    tcpProbe.run = original;
  }
}

const direct = await run(true);
const asked = await run(false);
await dns.close();
process.stdout.write(`${JSON.stringify({ direct, asked })}\n`);
