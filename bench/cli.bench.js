// The CLI as a user runs it, whole process against whole process, each beside a peer measured in the same run:
// 1,000 loopback TCP connects against `nmap -sT -Pn -n`, 60 slow TLS handshakes against one probe, the time before
// the first connect and after the last probe, and peak RSS. Start-up against `node -e 0` is startup.bench.js.
// The machine is shared, so every figure is a median of several runs and the goals are ratios (issue "speed").
// Loopback only; every server is closed at the end.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority } from '../dist/harness/certs.js';
import { loadBuiltinRuleSets } from '../dist/rules/builtin.js';
import { expandTargets } from '../dist/rules/expand.js';

// PUSHCHECK_BIN: measure another build (an older checkout's bin/pushcheck.js) against the same peers. Either is run
// as a user runs it, the file itself (its shebang), with this Node first on PATH so that it starts the Node that runs
// the bench: bin/pushcheck.js's shell part keeps Node 20 from reading NODE_EXTRA_CA_CERTS at start-up.
const BIN = process.env.PUSHCHECK_BIN ?? fileURLToPath(new URL('../bin/pushcheck.js', import.meta.url));
process.env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-bench-'));
const servers = [];
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const ms = (value) => `${value.toFixed(0)} ms`;
const ratio = (a, b) => `${(a / b).toFixed(2)}×`;

/** Runs a command to its end; wall time from spawn to exit, and when it exited (performance.now()). */
function timed(command, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      const ended = performance.now();
      resolve({ code, wallMs: ended - started, started, ended, stdout, stderr });
    });
  });
}

const TIME = '/usr/bin/time';
const timeFound = spawnSync(TIME, ['-f', '%U', 'true']).status === 0;

/**
 * Like timed(), also with the CPU time (user + system, ms) the command used, from GNU time: on a shared machine a
 * process's CPU time moves much less with the load than its wall time does. cpuMs is NaN without GNU time.
 */
async function timedCpu(command, args, env = process.env) {
  if (!timeFound) return { ...(await timed(command, args, env)), cpuMs: NaN };
  const file = path.join(dir, 'cpu.txt');
  const run = await timed(TIME, ['-f', '%U %S', '-o', file, command, ...args], env);
  const [user, system] = readFileSync(file, 'utf8').trim().split('\n').pop().split(' ').map(Number);
  return { ...run, cpuMs: (user + system) * 1000 };
}

/** Peak RSS in MB of one run, from GNU time. */
function peakRssMb(args) {
  const run = spawnSync(TIME, ['-f', '%M', BIN, ...args], { encoding: 'utf8' });
  const kb = Number(run.stderr.trim().split('\n').pop());
  return Number.isFinite(kb) ? kb / 1024 : NaN;
}

function listen(server, port, host) {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address().port));
  });
}

function ruleFile(name, rule) {
  const file = path.join(dir, `${name}.yaml`);
  const lines = [`id: ${name}`, `title: ${name}`, 'rules:', '  - id: 1', `    host: ${rule.host}`, `    probe: [${rule.probe.join(', ')}]`, `    ports: [${rule.ports.join(', ')}]`, `    check: ${rule.check}`, '    purpose: bench', '    impact: bench', '    severity: critical'];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

// Connections seen by the loopback servers, for the time of the first connect and the last one.
let connects = [];
const record = (socket) => {
  connects.push(performance.now());
  socket.on('error', () => undefined);
  socket.end();
};

console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores; medians of ${RUNS} runs`);

// 2. 1,000 loopback TCP targets: ten addresses × 100 ports, the same connects for nmap and for pushcheck.
const ADDRESSES = Array.from({ length: 10 }, (_, i) => `127.0.1.${i + 1}`);
const ports = [];
for (let i = 0; i < 100; i += 1) ports.push(await listen(net.createServer(record), 0, ADDRESSES[0]));
for (const address of ADDRESSES.slice(1)) for (const port of ports) await listen(net.createServer(record), port, address);
const tcpRules = ruleFile('tcp1000', { host: 'bench.test', probe: ADDRESSES.map((_, i) => `h${i}.bench.test`), ports, check: 'tcp' });
const tcpPins = ADDRESSES.flatMap((address, i) => ['--resolve', `h${i}.bench.test=${address}`]);
// Bare Node's floor: a script that only makes the same 1,000 connects at pushcheck's concurrency (connect or error →
// destroy, next), so that pushcheck's own cost is seen apart from Node's start and sockets.
const floorScript = path.join(dir, 'floor.mjs');
writeFileSync(
  floorScript,
  `import net from 'node:net';
const [addresses, ports, concurrency] = process.argv.slice(2);
const targets = addresses.split(',').flatMap((host) => ports.split(',').map((port) => ({ host, port: Number(port) })));
let next = 0;
const connectNext = () => {
  const target = targets[next++];
  if (!target) return;
  const socket = net.connect(target);
  const done = () => { socket.destroy(); connectNext(); };
  socket.once('connect', done);
  socket.once('error', done);
};
for (let i = 0; i < Number(concurrency); i += 1) connectNext();
`,
);
// The same connects on 256 sockets that are connected again after 'close', as the tcp check's socket pool does
// (src/probes/tcp.ts): the floor for what pushcheck does now, without building a net.Socket per target.
const reuseFloorScript = path.join(dir, 'floor-reuse.mjs');
writeFileSync(
  reuseFloorScript,
  `import net from 'node:net';
const [addresses, ports, concurrency] = process.argv.slice(2);
const targets = addresses.split(',').flatMap((host) => ports.split(',').map((port) => ({ host, port: Number(port) })));
let next = 0;
const lane = () => {
  const socket = new net.Socket();
  const connectNext = () => { const target = targets[next++]; if (target) socket.connect(target); };
  socket.on('connect', () => socket.destroy());
  socket.on('error', () => undefined);
  socket.on('close', connectNext);
  connectNext();
};
for (let i = 0; i < Number(concurrency); i += 1) lane();
`,
);
// Node 20 reads NODE_EXTRA_CA_CERTS at start-up, before any JavaScript (nodejs/node#40524; Node 22 reads it on first
// use): with a system bundle there, every Node 20 process starts about 70 ms later, nmap not. When it is set, bare Node
// and pushcheck are measured both with it and without it, in the same rounds.
const environments = [{ name: '', env: process.env }];
if (process.env.NODE_EXTRA_CA_CERTS) {
  const without = { ...process.env };
  delete without.NODE_EXTRA_CA_CERTS;
  environments.push({ name: 'without NODE_EXTRA_CA_CERTS', env: without });
}
{
  const nmapFound = spawnSync('nmap', ['--version']).status === 0;
  const nmap = [];
  const nmapCpu = [];
  const figures = environments.map(() => ({ ours: [], floor: [], oursCpu: [], floorCpu: [], reuse: [], reuseCpu: [], firstConnect: [], afterLast: [], floorAfterLast: [] }));
  for (let i = 0; i < RUNS; i += 1) {
    if (nmapFound) {
      const peer = await timedCpu('nmap', ['-sT', '-Pn', '-n', '-p', ports.join(','), `${ADDRESSES[0]}-${ADDRESSES.length}`]);
      nmap.push(peer.wallMs);
      nmapCpu.push(peer.cpuMs);
    }
    for (const [e, { env }] of environments.entries()) {
      const f = figures[e];
      connects = [];
      const bare = await timedCpu(process.execPath, [floorScript, ADDRESSES.join(','), ports.join(','), '256'], env);
      if (bare.code !== 0 || connects.length !== ADDRESSES.length * ports.length) throw new Error(`the bare Node floor exited ${bare.code} after ${connects.length} connects: ${bare.stderr}`);
      f.floor.push(bare.wallMs);
      f.floorCpu.push(bare.cpuMs);
      f.floorAfterLast.push(bare.ended - Math.max(...connects));
      connects = [];
      const reused = await timedCpu(process.execPath, [reuseFloorScript, ADDRESSES.join(','), ports.join(','), '256'], env);
      if (reused.code !== 0 || connects.length !== ADDRESSES.length * ports.length) throw new Error(`the re-used sockets' floor exited ${reused.code} after ${connects.length} connects: ${reused.stderr}`);
      f.reuse.push(reused.wallMs);
      f.reuseCpu.push(reused.cpuMs);
      connects = [];
      const run = await timedCpu(BIN, [tcpRules, ...tcpPins, '-c', '256', '-f', 'json'], env);
      if (run.code !== 0) throw new Error(`pushcheck on 1,000 TCP targets exited ${run.code}: ${run.stderr}`);
      f.ours.push(run.wallMs);
      f.oursCpu.push(run.cpuMs);
      f.firstConnect.push(Math.min(...connects) - run.started);
      f.afterLast.push(run.ended - Math.max(...connects));
    }
  }
  const n = median(nmap);
  console.log(`\n1,000 loopback TCP targets (goal: within 3× nmap -sT -Pn -n on the same ports)`);
  if (nmapFound) console.log(`  nmap -sT -Pn -n      ${ms(n)}`);
  else console.log('  nmap                 not installed: no ratio');
  for (const [e, { name }] of environments.entries()) {
    const f = figures[e];
    if (name) console.log(`  ${name} (Node 20 loads it at start-up, bin/pushcheck.js at the first TLS use; nmap is not affected):`);
    const [fl, p] = [median(f.floor), median(f.ours)];
    console.log(`  bare Node floor      ${ms(fl)}${nmapFound ? `  ${ratio(fl, n)} nmap` : ''}  (the same connects, -c 256, nothing else)`);
    const reuse = median(f.reuse);
    console.log(`  … re-used sockets    ${ms(reuse)}${nmapFound ? `  ${ratio(reuse, n)} nmap` : ''}  (the same, on 256 sockets connected again after 'close'${timeFound ? `; CPU ${ms(median(f.reuseCpu))}` : ''})`);
    console.log(`  pushcheck            ${ms(p)}${nmapFound ? `  ${ratio(p, n)} nmap` : ''}  ${ratio(p, fl)} floor`);
    if (timeFound) {
      const [nc, fc, pc] = [median(nmapCpu), median(f.floorCpu), median(f.oursCpu)];
      console.log(`  CPU (user + system)  ${nmapFound ? `nmap ${ms(nc)}, ` : ''}floor ${ms(fc)}, pushcheck ${ms(pc)}${nmapFound ? `  ${ratio(pc, nc)} nmap` : ''}  ${ratio(pc, fc)} floor`);
    }
    console.log(`  start → first connect ${ms(median(f.firstConnect))}, last connect → exit ${ms(median(f.afterLast))} (floor: ${ms(median(f.floorAfterLast))})`);
  }
  console.log(`  peak RSS             ${peakRssMb([tcpRules, ...tcpPins, '-c', '256', '-f', 'json']).toFixed(0)} MB`);
}

// 3. 60 TLS targets whose handshakes each take 400 ms: the whole process against one probe.
const ca = await createCertificateAuthority('bench CA');
const leaf = await ca.issue({ names: ['*.tls.bench'] });
const caFile = path.join(dir, 'ca.pem');
writeFileSync(caFile, ca.cert);
// One secure context for every connection, as tls.createServer keeps one: a context per connection cost the bench
// 1.5 ms each, one after another as the 60 timers fired, so its own server was the slowest part of the run.
const serverContext = tls.createSecureContext({ cert: leaf.cert, key: leaf.key });
// When the server answered its last ClientHello: from then on the time is pushcheck's.
let lastAnswer = 0;
const slowPort = await listen(
  net.createServer((socket) => {
    connects.push(performance.now());
    socket.on('error', () => undefined);
    setTimeout(() => {
      const secure = new tls.TLSSocket(socket, { isServer: true, secureContext: serverContext });
      secure.on('error', () => socket.destroy());
      secure.on('secure', () => secure.end());
      lastAnswer = performance.now();
    }, 400);
  }),
  0,
  '127.0.0.1',
);
{
  const sixty = ruleFile('tls60', { host: 'tls.bench', probe: Array.from({ length: 60 }, (_, i) => `h${i}.tls.bench`), ports: [slowPort], check: 'tls' });
  const one = ruleFile('tls1', { host: 'tls.bench', probe: ['h0.tls.bench'], ports: [slowPort], check: 'tls' });
  const common = ['--resolve', '*.tls.bench=127.0.0.1', '--ca', caFile, '-f', 'json'];
  const whole = [];
  const probe = [];
  const single = [];
  const cpu = [];
  const firstConnect = [];
  const afterLast = [];
  for (let i = 0; i < RUNS; i += 1) {
    connects = [];
    const run = await timedCpu(BIN, [sixty, ...common]);
    if (run.code !== 0) throw new Error(`pushcheck on 60 TLS targets exited ${run.code}: ${run.stderr}`);
    whole.push(run.wallMs);
    cpu.push(run.cpuMs);
    firstConnect.push(Math.min(...connects) - run.started);
    afterLast.push(run.ended - lastAnswer);
    probe.push(median(JSON.parse(run.stdout).results.map((r) => r.timings.totalMs)));
    single.push((await timed(BIN, [one, ...common])).wallMs);
  }
  console.log(`\n60 TLS targets with 400 ms handshakes (goal: whole process within 1.5× one probe)`);
  console.log(`  one probe (median)   ${ms(median(probe))}`);
  console.log(`  pushcheck, 60        ${ms(median(whole))}  ${ratio(median(whole), median(probe))}`);
  console.log(`  pushcheck, 1 target  ${ms(median(single))}  ${ratio(median(single), median(probe))}`);
  console.log(`  60 targets: start → first connect ${ms(median(firstConnect))}, last answer → exit ${ms(median(afterLast))}${timeFound ? `, CPU (user + system) ${ms(median(cpu))}` : ''}`);
}

// 4. A built-in rule set, every port of it served on 127.0.0.9 (ports below 1024 need root).
{
  const sets = loadBuiltinRuleSets();
  const allPorts = [...new Set(sets.flatMap((s) => s.rules.flatMap((r) => r.ports)))];
  try {
    for (const port of allPorts) await listen(net.createServer(record), port, '127.0.0.9');
    // Targets waiting for a --var (${messageUrl}) are skipped by the run and need no pin.
    const hosts = [...new Set(sets.flatMap((set) => expandTargets(set, { vars: {} }).map((t) => t.host)))].filter((h) => /^[a-z0-9.-]+$/i.test(h));
    const pins = hosts.flatMap((host) => ['--resolve', `${host}=127.0.0.9`]);
    const firstConnect = [];
    const afterLast = [];
    const bare = [];
    for (let i = 0; i < RUNS; i += 1) {
      // Node's own start, one at a time and in turn with pushcheck: started together, they slowed each other and
      // made the start subtracted below look longer than it is.
      bare.push((await timed(process.execPath, ['-e', '0'])).wallMs);
      connects = [];
      const run = await timed(BIN, ['ios', ...pins, '-f', 'json', '-t', '2000']);
      if (connects.length === 0) throw new Error(`pushcheck ios made no connection (exit ${run.code}): ${run.stderr}`);
      firstConnect.push(Math.min(...connects) - run.started);
      afterLast.push(run.ended - Math.max(...connects));
    }
    const base = median(bare);
    console.log(`\npushcheck ios against loopback stand-ins (goal: under 100 ms each, beyond Node's own start)`);
    console.log(`  start → first connect ${ms(median(firstConnect))} (node -e 0 alone: ${ms(base)}; pushcheck's share ${ms(median(firstConnect) - base)})`);
    console.log(`  last connect → exit   ${ms(median(afterLast))}`);
    console.log(`  peak RSS of pushcheck all: ${peakRssMb(['all', ...pins, '-f', 'json', '-t', '2000']).toFixed(0)} MB`);
  } catch (err) {
    console.log(`\nbuilt-in rule set: not measured (${err.code ?? err.message}: ports ${allPorts.join(', ')} on 127.0.0.9 need root)`);
  }
}

await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
rmSync(dir, { recursive: true, force: true });
