// Checker throughput: 1,000 loopback targets at several concurrency levels, and the ratio of a full
// `all`-style run's wall time to its slowest single probe (the figure the default --concurrency is chosen by).
// Loopback only; every server is closed at the end.
import net from 'node:net';
import tls from 'node:tls';
import { createCertificateAuthority } from '../dist/harness/certs.js';
import { runChecks } from '../dist/run/run.js';
import { checkSettings } from '../dist/run/settings.js';
import { loadBuiltinRuleSets } from '../dist/rules/builtin.js';
import { expandTargets } from '../dist/rules/expand.js';

const HOSTS = 10;
const PORTS = 100;
const servers = [];

function listen(server, port = 0, host = '127.0.0.1') {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

function settings(concurrency, extra = {}) {
  return checkSettings({ concurrency, ...extra });
}

function benchRuleSet(check, ports) {
  return {
    id: 'bench',
    title: 'bench',
    aliases: [],
    notes: [],
    file: 'bench',
    builtin: false,
    rules: [
      {
        id: '1',
        host: 'bench.test',
        probe: Array.from({ length: HOSTS }, (_, i) => `h${i}.bench.test`),
        ports,
        check,
        plainPorts: [],
        purpose: 'bench',
        impact: 'bench',
        severity: 'critical',
        origin: 'documented',
        cidr: [],
        vendorIssuers: [],
        line: 1,
      },
    ],
  };
}

const ca = await createCertificateAuthority('bench CA');
const leaf = await ca.issue({ names: ['*.bench.test'] });
const ports = [];
for (let i = 0; i < PORTS; i += 1) {
  ports.push(await listen(tls.createServer({ cert: leaf.cert, key: leaf.key }, (s) => s.end())));
}
const pins = [{ host: '*.bench.test', address: '127.0.0.1' }];

console.log(`${HOSTS * PORTS} targets on loopback (${HOSTS} names × ${PORTS} TLS listeners)`);
console.log('check  concurrency  wall ms  probes/s  failed');
for (const check of ['tcp', 'tls']) {
  for (const concurrency of [1, 16, 64, 256]) {
    const started = performance.now();
    const report = await runChecks([benchRuleSet(check, ports)], settings(concurrency, { pins, caPems: [ca.cert] }));
    const wall = performance.now() - started;
    console.log(
      `${check.padEnd(6)} ${String(concurrency).padStart(11)}  ${wall.toFixed(0).padStart(7)}  ${(report.summary.total / (wall / 1000)).toFixed(0).padStart(8)}  ${report.summary.failed}`,
    );
  }
}

// `pushcheck all` against slow loopback stand-ins: every port the built-in rule sets use gets a TLS server that
// waits 20–300 ms before answering, so the slowest probe is known and the run's wall time can be compared to it.
// Ports below 1024 need root; without it this part says so and stops.
const sets = loadBuiltinRuleSets();
const allPorts = [...new Set(sets.flatMap((s) => s.rules.flatMap((r) => r.ports)))].sort((a, b) => a - b);
try {
  const slow = await ca.issue({ names: ['*.apple.com', '*.push.apple.com', '*.googleapis.com', '*.google.com', '*.moki.com', '*.appspot.com', '*.pushy.me', '*.pushy.io', '*.mokimobility.com', 'mokimanage.com', '*.ibi-aws.net'] });
  for (const port of allPorts) {
    const server = net.createServer((socket) => {
      const delay = 20 + Math.floor(Math.random() * 280);
      setTimeout(() => {
        const secure = new tls.TLSSocket(socket, { isServer: true, cert: slow.cert, key: slow.key });
        secure.on('error', () => socket.destroy());
        secure.on('secure', () => secure.end());
      }, delay);
      socket.on('error', () => {});
    });
    await listen(server, port, '127.0.0.9');
  }
  const hosts = new Set(sets.flatMap((set) => expandTargets(set, { vars: {} }).map((t) => t.host)));
  const allPins = [...hosts].map((host) => ({ host, address: '127.0.0.9' }));
  for (const concurrency of [8, 64]) {
    const started = performance.now();
    const report = await runChecks(sets, settings(concurrency, { pins: allPins, caPems: [ca.cert], insecure: true }));
    const wall = performance.now() - started;
    const slowest = Math.max(...report.results.map((r) => r.timings.totalMs));
    console.log(
      `all: ${report.summary.total} targets, concurrency ${concurrency}: wall ${wall.toFixed(0)} ms, slowest probe ${slowest.toFixed(0)} ms, ratio ${(wall / slowest).toFixed(2)}`,
    );
  }
} catch (err) {
  console.log(`all: not measured (${err.code ?? err.message}: binding ports ${allPorts.join(', ')} on 127.0.0.9 needs root)`);
}

await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
