// `pushcheck serve` under load: 50 concurrent clients scrape /probe for 30 s (BENCH_SERVE_SECONDS to change it)
// against loopback targets, as a fleet of Prometheus servers would. Prints requests per second, p50/p99 latency,
// how many scrapes shared a run, and the exporter's resident memory before and after (growth should be noise).
// The exporter is a child process (the real CLI); the targets and the clients live here. Loopback only; every
// server and the child are closed at the end.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const CLIENTS = 50;
const SECONDS = Number(process.env.BENCH_SERVE_SECONDS ?? 30);
const RULES = 10;
const PORTS_PER_RULE = 10;
const BIN = fileURLToPath(new URL('../bin/pushcheck.js', import.meta.url));

const servers = [];
function listen() {
  const server = net.createServer((socket) => socket.on('error', () => undefined).end());
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

const ports = await Promise.all(Array.from({ length: RULES * PORTS_PER_RULE }, listen));
const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-bench-serve-'));
const ruleFile = path.join(dir, 'bench.yaml');
const rules = Array.from({ length: RULES }, (_, i) =>
  [
    `  - id: r${i}`,
    '    host: 127.0.0.1',
    `    ports: [${ports.slice(i * PORTS_PER_RULE, (i + 1) * PORTS_PER_RULE).join(', ')}]`,
    '    check: tcp',
    '    purpose: bench',
    '    impact: bench',
    '    severity: critical',
  ].join('\n'),
);
writeFileSync(ruleFile, ['id: bench', 'title: bench', 'rules:', ...rules, ''].join('\n'));

const child = spawn(process.execPath, [BIN, 'serve', '--listen', '127.0.0.1:0', '--rules', ruleFile], { stdio: ['ignore', 'ignore', 'pipe'] });
const url = await new Promise((resolve, reject) => {
  let text = '';
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    text += chunk;
    const match = /listening on (http:\/\/\S+)/.exec(text);
    if (match) resolve(match[1]);
  });
  child.on('exit', (code) => reject(new Error(`pushcheck serve exited (${code}): ${text}`)));
});

const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
function get(pathname) {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}${pathname}`, { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode, body }));
      })
      .on('error', reject);
  });
}

function metric(text, name) {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

async function load(seconds) {
  const latencies = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = 0; performance.now() < until; i += 1) {
        const began = performance.now();
        const res = await get(`/probe?ruleset=bench&rule=r${(client + i) % RULES}`).catch(() => ({ status: 0 }));
        if (res.status !== 200) errors += 1;
        latencies.push(performance.now() - began);
      }
    }),
  );
  return { latencies: latencies.sort((a, b) => a - b), errors };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

await load(Math.min(5, SECONDS)); // warm-up: JIT, sockets, first runs
const before = await get('/metrics');
// RSS every 5 s during the load: a leak climbs steadily, a heap that found its size levels off.
const rssSamples = [];
const sampler = setInterval(() => {
  void get('/metrics').then((res) => rssSamples.push((metric(res.body, 'process_resident_memory_bytes') / 2 ** 20).toFixed(0)));
}, 5000);
const { latencies, errors } = await load(SECONDS);
clearInterval(sampler);
const after = await get('/metrics');
const rssBefore = metric(before.body, 'process_resident_memory_bytes') / 2 ** 20;
const rssAfter = metric(after.body, 'process_resident_memory_bytes') / 2 ** 20;
const runs = after.body
  .split('\n')
  .filter((l) => l.startsWith('pushcheck_exporter_runs_total{'))
  .reduce((sum, l) => sum + Number(l.split(' ')[1]), 0);

console.log(`serve: ${CLIENTS} clients for ${SECONDS} s, ${RULES} rules of ${PORTS_PER_RULE} loopback TCP targets each, scraped one rule per request`);
console.log(`  requests:  ${latencies.length} (${(latencies.length / SECONDS).toFixed(0)} per second), ${errors} not 200`);
console.log(`  latency:   p50 ${pct(latencies, 50).toFixed(1)} ms, p99 ${pct(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1).toFixed(1)} ms`);
console.log(`  runs:      ${runs} started in all, ${metric(after.body, 'pushcheck_exporter_shared_scrapes_total')} scrapes joined a run in flight`);
console.log(`  exporter RSS: ${rssBefore.toFixed(1)} MB after warm-up, ${rssAfter.toFixed(1)} MB after the load (${(rssAfter - rssBefore >= 0 ? '+' : '')}${(rssAfter - rssBefore).toFixed(1)} MB); every 5 s: ${rssSamples.join(', ')} MB`);

agent.destroy();
child.kill('SIGTERM');
await new Promise((resolve) => child.on('exit', resolve));
for (const server of servers) server.close();
rmSync(dir, { recursive: true, force: true });
process.exit(errors === 0 ? 0 : 1);
