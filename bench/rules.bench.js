// Validating rule files: time to parse and check files of 1,000 to 9,000 rules (the largest under the 1 MB cap).
// Validation is linear (the duplicate-id check was quadratic: 430,000 rules did not finish in two minutes), so
// 9 × the rules should take about 9 × the time: the ratio column says how close it is.
import { parseRuleSet } from '../dist/rules/load.js';

function file(rules) {
  let text = 'id: bench\ntitle: Bench\nrules:\n';
  for (let i = 0; i < rules; i += 1) {
    text += `  - { id: "r${i}", host: h${i}.push.test, ports: [443], check: tls, purpose: p, impact: i, severity: critical }\n`;
  }
  return text;
}

const rows = [];
for (const rules of [1_000, 3_000, 9_000]) {
  const text = file(rules);
  parseRuleSet(text, 'warm-up.yaml');
  const started = performance.now();
  parseRuleSet(text, 'bench.yaml');
  rows.push({ rules, bytes: text.length, ms: performance.now() - started });
}
console.log('| rules | file size | validation | µs per rule | time ratio to 1,000 rules | rules ratio |');
console.log('|---|---|---|---|---|---|');
for (const row of rows) {
  console.log(
    `| ${row.rules.toLocaleString('en-US')} | ${(row.bytes / 1024 / 1024).toFixed(1)} MB | ${Math.round(row.ms)} ms | ${((row.ms * 1000) / row.rules).toFixed(0)} | ` +
      `${(row.ms / rows[0].ms).toFixed(1)} | ${(row.rules / rows[0].rules).toFixed(1)} |`,
  );
}
