// The CLI as a user runs it, whole process against whole process, each beside a peer measured in the same run:
// 1,000 loopback TCP connects against `nmap -sT -Pn -n`, 60 slow TLS handshakes against one probe, the time before
// the first connect and after the last probe, and peak RSS. Start-up against `node -e 0` is startup.bench.js.
// The machine is shared, so every figure is a median of several runs and the goals are ratios (issue "speed").
// Loopback only; every server is closed at the end.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority } from '../dist/harness/certs.js';
import { loadBuiltinRuleSets } from '../dist/rules/builtin.js';
import { expandTargets } from '../dist/rules/expand.js';
import { DEFAULT_CONCURRENCY } from '../dist/run/settings.js';
import { bashFound, timed, timedCpu as timedCpuTo } from './bash-time.js';
import { benchOptions, build, rounds } from './options.js';
import { shuffler } from './shuffled.js';
import { checkedRun, loopbackTargets, median, ms, ratio, ruleFile, thisNodeFirstOnPath } from './tcp-run.js';

// PUSHCHECK_BEFORE=<older checkout>/bin/pushcheck.js: the TCP run also measures that build, in the same rounds, at the
// default concurrency (the goal's run). PUSHCHECK_BIN: measure another build (an older checkout's bin/pushcheck.js)
// against the same peers. Either is run as a user runs it (thisNodeFirstOnPath says how).
const { BEFORE, BIN, RUNS } = benchOptions((env) => ({
  BEFORE: build(env, 'PUSHCHECK_BEFORE'),
  BIN: build(env, 'PUSHCHECK_BIN', fileURLToPath(new URL('../bin/pushcheck.js', import.meta.url))),
  RUNS: rounds(env, 'BENCH_RUNS', 7),
}));
thisNodeFirstOnPath();
const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-bench-'));
// Removed also when a run fails and the bench throws (not when a signal ends it): 77 were left in this machine's /tmp.
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const servers = [];

const TIME = '/usr/bin/time';
/** timedCpu (bash-time.js) with the command's stdout to a file of the bench's temporary folder. */
const timedCpu = (command, args, env = process.env) => timedCpuTo(command, args, env, path.join(dir, 'stdout.txt'));

/**
 * hyperfine's own medians for the peer and the commands (-N, 3 warm-up runs, each command's runs in one block) when it
 * is installed: a check on this bench's way of measuring, which does not need it.
 */
function hyperfineCheck(peer, commands, env) {
  if (spawnSync('hyperfine', ['--version']).status !== 0) return;
  const file = path.join(dir, 'hyperfine.json');
  const lines = [...(peer ? [['nmap', peer]] : []), ...commands];
  const run = spawnSync('hyperfine', ['-N', '-w', '3', '-r', String(Math.max(RUNS, 2)), '--export-json', file, ...lines.map(([, line]) => line)], { env, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (run.status !== 0) return console.log(`  hyperfine failed: ${run.stderr.trim().split('\n').pop()}`);
  const results = JSON.parse(readFileSync(file, 'utf8')).results;
  const wall = results.map((result) => result.median * 1000);
  const figures = lines.map(([name], i) => `${name} ${ms(wall[i])}${peer && i > 0 ? ` = ${ratio(wall[i], wall[0])}` : ''} (mean CPU ${ms((results[i].user + results[i].system) * 1000)})`);
  console.log(`  hyperfine -N -w 3 -r ${Math.max(RUNS, 2)}, medians: ${figures.join(', ')}`);
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

// Connections seen by the loopback servers, for the time of the first connect and the last one; and when each was
// closed, which for a probe that ends its socket is when the probe ended (a TLS probe's handshake, with the run's
// first secure context, comes after its connect).
let connects = [];
let closes = [];
const record = (socket) => {
  connects.push(performance.now());
  socket.on('error', () => undefined);
  socket.on('close', () => closes.push(performance.now()));
  socket.end();
};

console.log(`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores; medians of ${RUNS} runs`);

// 2. 1,000 loopback TCP targets: ten addresses × 100 ports, the same connects for nmap and for pushcheck, served by a
// process of their own (tcp-run.js, loopback-targets.js).
const targets = await loopbackTargets(dir);
const { addresses: ADDRESSES, ports, nmapArgs, pins: tcpPins } = targets;
const [tcpRules, beforeTcpRules] = [targets.rules, targets.beforeRules];
// Bare Node's floor: a script that only makes the same 1,000 connects at pushcheck's default concurrency (connect →
// reset, error → destroy, next), so that pushcheck's own cost is seen apart from Node's start and sockets. CommonJS, as
// bin/pushcheck.js is: as an ES module it started 6 ms later and took 9 ms more wall, 14 ms more CPU (medians of 21).
// Both floors close as the tcp check does, by a reset (resetAndDestroy(), SO_LINGER 0, as nmap -sT): a floor that
// closed with FIN would pay the listener's wake-up and the TIME_WAIT that pushcheck no longer pays, and stop being one.
const floorScript = path.join(dir, 'floor.cjs');
writeFileSync(
  floorScript,
  `const net = require('node:net');
const [addresses, ports, concurrency] = process.argv.slice(2);
const targets = addresses.split(',').flatMap((host) => ports.split(',').map((port) => ({ host, port: Number(port) })));
let next = 0;
const connectNext = () => {
  const target = targets[next++];
  if (!target) return;
  const socket = net.connect(target);
  socket.once('connect', () => { socket.resetAndDestroy(); connectNext(); });
  socket.once('error', () => { socket.destroy(); connectNext(); });
};
for (let i = 0; i < Number(concurrency); i += 1) connectNext();
`,
);
// The same connects on as many sockets, connected again after 'close', as the tcp check's socket pool does
// (src/probes/tcp.ts): the floor for what pushcheck does now, without building a net.Socket per target.
const reuseFloorScript = path.join(dir, 'floor-reuse.cjs');
writeFileSync(
  reuseFloorScript,
  `const net = require('node:net');
const [addresses, ports, concurrency] = process.argv.slice(2);
const targets = addresses.split(',').flatMap((host) => ports.split(',').map((port) => ({ host, port: Number(port) })));
let next = 0;
const lane = () => {
  const socket = new net.Socket();
  const connectNext = () => { const target = targets[next++]; if (target) socket.connect(target); };
  socket.on('connect', () => socket.resetAndDestroy());
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
  // The goal is what a user gets: pushcheck at its default concurrency, and the floors at the same.
  const floorArgs = [ADDRESSES.join(','), ports.join(','), String(DEFAULT_CONCURRENCY)];
  // Every command of a round, the peer included, is started the same way (bash-time.js), with its stdout to a file,
  // in an order of the round's own (shuffled.js), so that each command takes every place and follows every other.
  const commands = nmapFound ? [{ label: 'nmap -sT -Pn -n', run: () => timedCpu('nmap', nmapArgs) }] : [];
  for (const [e, { env }] of environments.entries()) {
    // Each row's ÷ floor divides by the floor only where the two start and connect alike. With NODE_EXTRA_CA_CERTS
    // set, the floor pays for the file at start-up and bin/pushcheck.js does not (it starts Node without it): pushcheck
    // ÷ floor there read 0.8-1.1× with 70 ms of the floor's that pushcheck never spends. A run at another concurrency
    // than the floor's gets no ÷ floor either.
    const c = DEFAULT_CONCURRENCY;
    const floor = { e, label: 'bare Node floor', note: `the same connects, ${c} at once, nothing else`, run: () => timedCpu(process.execPath, [floorScript, ...floorArgs], env) };
    const binFloor = e === 0 && environments.length > 1 ? undefined : floor;
    commands.push(
      floor,
      { e, floor, label: '… re-used sockets', note: `the same, on ${c} sockets connected again after 'close'`, run: () => timedCpu(process.execPath, [reuseFloorScript, ...floorArgs], env) },
      // What a user gets without -c: the default concurrency (src/run/settings.ts, docs/cli.md).
      { e, floor: binFloor, label: `pushcheck (-c ${c})`, note: 'the goal: the default concurrency', run: () => timedCpu(BIN, [tcpRules, ...tcpPins, '-f', 'json'], env) },
      { e, label: 'pushcheck -c 256', note: 'for comparison, not the goal', run: () => timedCpu(BIN, [tcpRules, ...tcpPins, '-c', '256', '-f', 'json'], env) },
    );
    if (BEFORE) commands.push({ e, floor: binFloor, label: `before (-c ${c})`, note: 'PUSHCHECK_BEFORE, the goal', run: () => timedCpu(BEFORE, [beforeTcpRules, ...tcpPins, '-f', 'json'], env) });
  }
  for (const command of commands) Object.assign(command, { wall: [], cpu: [], faults: [], firstConnect: [], afterLast: [], seenAfterExit: 0 });
  const loadBefore = os.loadavg()[0];
  // Round 0 fills the caches (the page cache, the code cache a build removes, Node 22's compile cache) and is not
  // counted, as hyperfine's --warmup.
  const shuffled = shuffler();
  for (let round = 0; round <= RUNS; round += 1) {
    for (const command of shuffled(commands)) {
      const { result: run, seen } = await checkedRun(command.label, command.run, targets);
      if (round === 0) continue;
      command.wall.push(run.wallMs);
      command.cpu.push(run.cpuMs);
      command.faults.push(run.minorFaults);
      command.firstConnect.push(seen.first - run.startedMs);
      command.afterLast.push(run.endedMs - seen.last);
      // targets.take waited for connects the starved listeners accepted only after the command had exited: that
      // round's last → exit measures the listeners, reads short (even below 0), and the row says how often it came.
      if (seen.last > run.endedMs) command.seenAfterExit += 1;
    }
  }
  console.log(`\n1,000 loopback TCP targets (goal: pushcheck at its default concurrency, ${DEFAULT_CONCURRENCY}, within 3× nmap -sT -Pn -n on the same ports), medians of ${RUNS} rounds after a warm-up, load ${loadBefore.toFixed(1)} → ${os.loadavg()[0].toFixed(1)}`);
  console.log(`  ${''.padEnd(23)} ${'wall'.padStart(7)} ${'÷ nmap'.padStart(7)} ${'÷ floor'.padStart(7)} ${'CPU'.padStart(7)} ${'÷ nmap'.padStart(7)} ${'÷ floor'.padStart(7)} ${'faults'.padStart(6)}  start → 1st connect, last → exit`);
  const nmap = nmapFound ? commands[0] : undefined;
  const row = (command) => {
    const [wall, cpu] = [median(command.wall), median(command.cpu)];
    const { floor } = command;
    const ratios = (value, peer, key) => (peer && peer !== command ? ratio(value, median(peer[key])) : '').padStart(7);
    // Not for nmap: the listeners see a connect when their event loop gets to it, after nmap may have exited.
    const times = command === nmap ? ''.padStart(15) : `${ms(median(command.firstConnect)).padStart(7)}, ${ms(median(command.afterLast)).padStart(6)}`;
    const late = command !== nmap && command.seenAfterExit > 0 ? `last connect seen after the exit in ${command.seenAfterExit} of ${RUNS} rounds` : '';
    const note = [command.note, late].filter(Boolean).join('; ');
    console.log(`  ${command.label.padEnd(23)} ${ms(wall).padStart(7)} ${ratios(wall, nmap, 'wall')} ${ratios(wall, floor, 'wall')} ${ms(cpu).padStart(7)} ${ratios(cpu, nmap, 'cpu')} ${ratios(cpu, floor, 'cpu')} ${String(median(command.faults)).padStart(6)}  ${times}${note ? `  (${note})` : ''}`);
  };
  if (nmap) row(nmap);
  else console.log('  nmap                    not installed: no ratio');
  for (const [e, { name }] of environments.entries()) {
    if (name) console.log(`  ${name} (Node 20 loads it at start-up, bin/pushcheck.js at the first TLS use; nmap is not affected):`);
    for (const command of commands.filter((c) => c.e === e)) row(command);
  }
  if (nmap) {
    // Each round's wall ÷ the same round's nmap, then the median: the rounds take seconds each, and this virtual
    // machine's speed drifts from one to the next (nmap itself moved 45–75 ms in one sitting), which a ratio of two
    // medians taken over all rounds feels and a ratio within each round much less.
    const perRound = (command) => `${command.label}${environments[command.e].name ? `, ${environments[command.e].name}` : ''} ${ratio(median(command.wall.map((wall, i) => wall / nmap.wall[i])), 1)}`;
    console.log(`  per round, wall ÷ that round's nmap (median): ${commands.filter((command) => command !== nmap).map(perRound).join('; ')}`);
  }
  console.log(`  (pushcheck ÷ floor only at the floor's concurrency, the default${environments.length > 1 ? ' and without NODE_EXTRA_CA_CERTS, where both start Node alike' : ''})`);
  if (!bashFound) console.log('  (no bash: wall times from spawn to exit, no CPU time)');
  console.log(`  peak RSS             ${peakRssMb([tcpRules, ...tcpPins, '-f', 'json']).toFixed(0)} MB (default concurrency)`);
  for (const { name, env } of environments) {
    const also = name ? `, ${name}` : '';
    const floor = [`floor${also}`, `${process.execPath} ${floorScript} ${floorArgs.join(' ')}`];
    const goal = [`pushcheck (-c ${DEFAULT_CONCURRENCY}, the goal)${also}`, `${BIN} ${tcpRules} ${tcpPins.join(' ')} -f json`];
    const wide = [`pushcheck -c 256${also}`, `${BIN} ${tcpRules} ${tcpPins.join(' ')} -c 256 -f json`];
    hyperfineCheck(nmapFound ? `nmap ${nmapArgs.join(' ')}` : undefined, [floor, goal, wide], env);
  }
}
targets.close();

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
  const sixty = ruleFile(dir, 'tls60', { host: 'tls.bench', probe: Array.from({ length: 60 }, (_, i) => `h${i}.tls.bench`), ports: [slowPort], check: 'tls' });
  const one = ruleFile(dir, 'tls1', { host: 'tls.bench', probe: ['h0.tls.bench'], ports: [slowPort], check: 'tls' });
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
    firstConnect.push(Math.min(...connects) - run.startedMs);
    afterLast.push(run.endedMs - lastAnswer);
    probe.push(median(JSON.parse(run.stdout).results.map((r) => r.timings.totalMs)));
    single.push((await timedCpu(BIN, [one, ...common])).wallMs);
  }
  console.log(`\n60 TLS targets with 400 ms handshakes (goal: whole process within 1.5× one probe)`);
  console.log(`  one probe (median)   ${ms(median(probe))}`);
  console.log(`  pushcheck, 60        ${ms(median(whole))}  ${ratio(median(whole), median(probe))}`);
  console.log(`  pushcheck, 1 target  ${ms(median(single))}  ${ratio(median(single), median(probe))}`);
  console.log(`  60 targets: start → first connect ${ms(median(firstConnect))}, last answer → exit ${ms(median(afterLast))}${bashFound ? `, CPU (user + system) ${ms(median(cpu))}` : ''}`);
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
    const afterLastProbe = [];
    const bare = [];
    // bin/pushcheck.js starts Node without NODE_EXTRA_CA_CERTS (it reads the file at the first TLS use), so Node's own
    // start is the one without it; for a PUSHCHECK_BIN from before that, the one with it.
    const deferred = environments[1];
    const bareDeferred = [];
    for (let i = 0; i < RUNS; i += 1) {
      // Node's own start, one at a time and in turn with pushcheck: started together, they slowed each other and
      // made the start subtracted below look longer than it is.
      bare.push((await timed(process.execPath, ['-e', '0'])).wallMs);
      if (deferred) bareDeferred.push((await timed(process.execPath, ['-e', '0'], deferred.env)).wallMs);
      connects = [];
      closes = [];
      const run = await timed(BIN, ['ios', ...pins, '-f', 'json', '-t', '2000']);
      if (connects.length === 0) throw new Error(`pushcheck ios made no connection (exit ${run.code}): ${run.stderr}`);
      firstConnect.push(Math.min(...connects) - run.started);
      afterLast.push(run.ended - Math.max(...connects));
      // A socket pushcheck left to its exit closes with it: such a probe ended no later than the exit, so it counts 0.
      afterLastProbe.push(Math.max(0, run.ended - Math.max(...closes)));
    }
    const base = median(deferred ? bareDeferred : bare);
    const without = deferred ? `, ${ms(base)} without NODE_EXTRA_CA_CERTS as bin/pushcheck.js starts it` : '';
    // Printed, not only said here: PUSHCHECK_BIN is how an older build is compared, and its share beyond a start
    // without the file read 70 ms too long.
    const older = deferred ? `; ${ms(median(firstConnect) - median(bare))} for a build before 3d990e8, whose Node reads the file at start-up` : '';
    console.log(`\npushcheck ios against loopback stand-ins (goal: under 100 ms each, beyond Node's own start)`);
    console.log(`  start → first connect ${ms(median(firstConnect))} (node -e 0 alone: ${ms(median(bare))}${without}; pushcheck's share ${ms(median(firstConnect) - base)}${older})`);
    console.log(`  last connect → exit   ${ms(median(afterLast))} (the TLS probes' handshakes and the run's first secure context come after their connects)`);
    console.log(`  last probe → exit     ${ms(median(afterLastProbe))} (from the last socket pushcheck closed: the goal's "after the last probe")`);
    console.log(`  peak RSS of pushcheck all: ${peakRssMb(['all', ...pins, '-f', 'json', '-t', '2000']).toFixed(0)} MB`);
  } catch (err) {
    console.log(`\nbuilt-in rule set: not measured (${err.code ?? err.message}: ports ${allPorts.join(', ')} on 127.0.0.9 need root)`);
  }
}

// Not awaited: on Node 22 and 24 a few servers still count a connection they ended (four of them, 1 to 5 each), so
// their close never calls back, and with nothing else left the bench ended on an unsettled await, exit code 13.
for (const server of servers) server.close();
