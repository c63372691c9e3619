// What a run does after its probes, at 1,000 and at 10,000 targets (the default --max-targets): statuses,
// fallbacks, per-rule summaries, findings and every output format. Linear work takes about 10 times as long for
// 10 times the targets; work that compares every result with every other takes about 100 times, and shows here.
// The results are made up (no network): a firewall that drops 5223 and 5228 on every host, lets 443 through, and
// blocks a tenth of the hosts outright, with IPv6 broken, so that fallbacks, family fallbacks and every finding that
// searches across results have work to do.
import { formatNames, loadFormat } from '../dist/report/index.js';
import { failure } from '../dist/probes/classify.js';
import { findingsOf } from '../dist/findings/index.js';
import { parseRuleSet } from '../dist/rules/load.js';
import { expandTargets } from '../dist/rules/expand.js';
import { applyFallbacks, applyFamilyFallbacks, reportOf, resultOf, summariseRules } from '../dist/run/outcome.js';
import { redactSecrets } from '../dist/secrets.js';
import { benchOptions, rounds } from './options.js';

const RUNS = benchOptions((env) => rounds(env, 'BENCH_RUNS', 3));
// Every output format, loaded once before timing (the registry loads a format's module when it is asked for).
const formats = await Promise.all(formatNames.map(async (name) => [name, await loadFormat(name)]));
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

/** A rule set of `hosts` names × ports 5223, 5228 and 443 (443 the fallback), each probed over IPv4 and IPv6. */
function ruleSet(hosts) {
  const names = Array.from({ length: hosts }, (_, i) => `h${i}.scale.test`);
  const text = [
    'id: scale',
    'title: scale',
    'rules:',
    '  - id: push',
    '    host: "*.scale.test"',
    `    probe: [${names.join(', ')}]`,
    '    ports: [5223, 5228]',
    '    check: tcp',
    '    purpose: pushes',
    '    impact: no pushes',
    '    severity: critical',
    '    fallback: { rule: web, note: devices on Wi-Fi fall back to 443 }',
    '  - id: web',
    '    host: "*.scale.test"',
    `    probe: [${names.join(', ')}]`,
    '    ports: [443]',
    '    check: tcp',
    '    purpose: the fallback',
    '    impact: no pushes on Wi-Fi',
    '    severity: critical',
    '',
  ].join('\n');
  return parseRuleSet(text, 'scale.yaml');
}

/** What the probes of one (host, port, family) saw on the network described above. */
function probed(target, family, index) {
  const host = Number(/^h(\d+)/.exec(target.host)[1]);
  const address = family === 'ipv4' ? `10.${(host >> 8) & 255}.${host & 255}.1` : `fd00::${host.toString(16)}`;
  const blockedHost = host % 10 === 0;
  const ok = family === 'ipv4' && target.port === 443 && !blockedHost;
  const code = family === 'ipv6' ? 'tcp_unreachable' : 'tcp_timeout';
  const outcome = {
    ok,
    addresses: [address],
    address,
    pinned: false,
    timings: { dnsMs: 1, connectMs: ok ? 2 : 5000, totalMs: ok ? 3 : 5001 },
    ...(!ok && { failure: failure(code, 'connect', `after ${5000 + (index % 7)} ms`) }),
  };
  return { target: { ...target, family }, attempts: 1, outcome, via: 'direct' };
}

function pipeline(sets) {
  const targets = sets.flatMap((set) => expandTargets(set, { vars: {} }));
  const all = targets.flatMap((target, i) => [probed(target, 'ipv4', i), probed(target, 'ipv6', i)]);
  const figures = {};
  const time = (name, work) => {
    const start = performance.now();
    const value = work();
    figures[name] = performance.now() - start;
    return value;
  };
  const results = time('statuses and fallbacks', () => applyFallbacks(applyFamilyFallbacks(all.map(resultOf)), sets));
  const rules = time('rule summaries', () => summariseRules(sets, all));
  const findings = time('findings', () => findingsOf(results, { startedAt: '2026-01-01T00:00:00.000Z' }));
  const report = reportOf({ strict: false, ruleSets: sets, results, rules, findings, recorded: { timeoutMs: 5000, concurrency: 64, retries: 0, resolve: [], caFiles: [], vars: [], strict: false, insecure: false }, startedAt: new Date(0), durationMs: 1, interrupted: false });
  const safe = time('redaction', () => redactSecrets(report));
  for (const [name, format] of formats) time(`format ${name}`, () => format.render(safe, { color: false, columns: 120 }));
  return { figures, results: results.length, findings: findings.length };
}

console.log(`medians of ${RUNS} runs; targets count each (host, port, family)`);
// Hosts: × 3 ports × 2 families: 600 and 6,000 results by default.
const sizes = (process.env.BENCH_HOSTS ?? "100,1000").split(",").map(Number);
const measured = sizes.map((hosts) => {
  const sets = [ruleSet(hosts)];
  pipeline(sets); // warm-up, so that both sizes run compiled code
  const runs = Array.from({ length: RUNS }, () => pipeline(sets));
  const names = Object.keys(runs[0].figures);
  return { hosts, results: runs[0].results, findings: runs[0].findings, figures: Object.fromEntries(names.map((n) => [n, median(runs.map((r) => r.figures[n]))])) };
});
const [small, large] = measured;
console.log(`\n${'step'.padEnd(24)} ${`${small.results} results`.padStart(16)} ${`${large.results} results`.padStart(16)}  ratio (linear ≈ ${(large.results / small.results).toFixed(0)})`);
for (const name of Object.keys(small.figures)) {
  const a = small.figures[name];
  const b = large.figures[name];
  console.log(`${name.padEnd(24)} ${`${a.toFixed(1)} ms`.padStart(16)} ${`${b.toFixed(1)} ms`.padStart(16)}  ${(b / a).toFixed(1)}×`);
}
console.log(`(${small.findings} and ${large.findings} findings)`);
