// The TCP goal's sitting (issue "speed": 1,000 loopback TCP targets within 3× `nmap -sT -Pn -n`, at pushcheck's
// default concurrency): only nmap, pushcheck and, with PUSHCHECK_BEFORE, that build, round after round, each round
// every command once, in an order that rotates through every order of them (so that each takes every place and
// follows every other as often), timed as cli.bench.js times them (bash-time.js: wall, CPU and minor page faults,
// stdout to a file) against the same listeners (tcp-run.js). cli.bench.js's five rounds of 9 put the same build at
// 2.76-3.12×: this virtual machine's speed drifts from minute to minute as much as the goal's margin, so the goal is
// read from many short rounds, each command's wall divided by its own round's nmap. Figures only, no verdict:
// docs/contributing.md ("Benchmarks") says how to read them.
//   BENCH_SITTING=40 PUSHCHECK_BEFORE=<older checkout>/bin/pushcheck.js node --expose-gc bench/tcp-sitting.bench.js
// BENCH_SITTING: rounds (default 40) after one warm-up round; PUSHCHECK_BIN: the build to measure (default this one's).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONCURRENCY } from '../dist/run/settings.js';
import { bashFound, timedCpu } from './bash-time.js';
import { benchOptions, build, rounds } from './options.js';
import { checkedRun, loopbackTargets, median, ms, ratio, thisNodeFirstOnPath } from './tcp-run.js';

const { BEFORE, BIN, ROUNDS } = benchOptions((env) => ({
  BEFORE: build(env, 'PUSHCHECK_BEFORE'),
  BIN: build(env, 'PUSHCHECK_BIN', fileURLToPath(new URL('../bin/pushcheck.js', import.meta.url))),
  ROUNDS: rounds(env, 'BENCH_SITTING', 40),
}));
const GOAL = 3;

/** Every order of items, each order once (Heap's algorithm would do too; there are two or three items). */
const orders = (items) => (items.length <= 1 ? [items] : items.flatMap((item, i) => orders(items.filter((_, j) => j !== i)).map((rest) => [item, ...rest])));

if (spawnSync('nmap', ['--version']).status !== 0) {
  console.log('TCP sitting: nmap is not installed, and the goal is a ratio to nmap: nothing measured');
  process.exit(0);
}
thisNodeFirstOnPath();
const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-sitting-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
const stdoutFile = path.join(dir, 'stdout.txt');
const targets = await loopbackTargets(dir);
const c = DEFAULT_CONCURRENCY;
const commands = [
  { label: 'nmap -sT -Pn -n', run: () => timedCpu('nmap', targets.nmapArgs, process.env, stdoutFile) },
  { label: `pushcheck (-c ${c})`, run: () => timedCpu(BIN, [targets.rules, ...targets.pins, '-f', 'json'], process.env, stdoutFile) },
  ...(BEFORE ? [{ label: `before (-c ${c})`, run: () => timedCpu(BEFORE, [targets.beforeRules, ...targets.pins, '-f', 'json'], process.env, stdoutFile) }] : []),
];
for (const command of commands) Object.assign(command, { wall: [], cpu: [], faults: [] });
const sequence = orders(commands);
// Real-time priority (`chrt -f 10`), which the commands inherit, changes what the wall figures mean: proc(5)'s policy,
// the 41st field of /proc/self/stat (0 is the normal SCHED_OTHER).
const stat = (() => {
  try {
    return readFileSync('/proc/self/stat', 'utf8');
  } catch {
    return '';
  }
})();
const realTime = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[41 - 3]) > 0;
const load = () => os.loadavg().map((l) => l.toFixed(2)).join(' ');
const loadBefore = load();
// Round 0 fills the caches (the page cache, the code cache a build removes, Node 22's compile cache) and is not
// counted, as hyperfine's --warmup.
for (let round = 0; round <= ROUNDS; round += 1) {
  for (const command of sequence[round % sequence.length]) {
    const { result } = await checkedRun(command.label, command.run, targets);
    if (round === 0) continue;
    command.wall.push(result.wallMs);
    command.cpu.push(result.cpuMs);
    command.faults.push(result.minorFaults);
  }
}
targets.close();

const [nmap, pushcheck, before] = commands;
const extraCerts = process.env.NODE_EXTRA_CA_CERTS ? 'NODE_EXTRA_CA_CERTS set (bin/pushcheck.js starts Node without it)' : 'NODE_EXTRA_CA_CERTS unset';
const scheduling = realTime ? 'real-time priority (chrt), the commands too' : 'normal priority';
console.log(`TCP sitting: 1,000 loopback TCP targets, ${ROUNDS} rounds after a warm-up, each round ${commands.map((command) => command.label).join(', ')}, rotating through every order`);
console.log(`  Node ${process.version}, ${os.cpus().length} cores, load average ${loadBefore} → ${load()}, ${scheduling}, ${extraCerts}`);
console.log(`  ${''.padEnd(22)} ${'wall'.padStart(7)} ${'(min-max)'.padStart(12)} ${'CPU'.padStart(7)} ${'minor faults'.padStart(13)}`);
for (const command of commands) {
  const span = `(${Math.min(...command.wall).toFixed(0)}-${Math.max(...command.wall).toFixed(0)})`;
  console.log(`  ${command.label.padEnd(22)} ${ms(median(command.wall)).padStart(7)} ${span.padStart(12)} ${ms(median(command.cpu)).padStart(7)} ${String(median(command.faults)).padStart(13)}`);
}
// Each round's figure ÷ the same round's peer: the median of those (the drift between rounds cancels), the ratio of the
// two medians (it does not), and the lowest and highest single round (what one round can read).
const perRound = (command, peer, key) => command[key].map((value, i) => value / peer[key][i]);
const compare = (command, peer, goal) => {
  const rows = ['wall', 'cpu'].map((key) => {
    const ratios = perRound(command, peer, key);
    const over = goal && key === 'wall' ? `, over ${goal}× in ${ratios.filter((r) => r > goal).length} of ${ratios.length}` : '';
    return `${key === 'wall' ? 'wall' : 'CPU'} ${ratio(median(ratios), 1)} (${ratio(Math.min(...ratios), 1)}-${ratio(Math.max(...ratios), 1)}${over}), of medians ${ratio(median(command[key]), median(peer[key]))}`;
  });
  console.log(`  ${`${command.label.replace(/ \(.*/, '')} ÷ ${peer.label.replace(/ .*/, '')}`.padEnd(22)} ${rows.join('; ')}`);
};
console.log(`per-round ratios: median (min-max), and the ratio of medians; the goal is pushcheck's wall within ${GOAL}× nmap's`);
compare(pushcheck, nmap, GOAL);
if (before) {
  compare(before, nmap, GOAL);
  compare(pushcheck, before);
}
// Busier than its cores, the machine makes every command wait for a core at random, most of all the short nmap: wall
// ratios then read low and far apart (pushcheck ÷ nmap 1.01-6.36×, median 1.96×, in 40 rounds at load 7-9, where CPU
// read 3.10×): CPU time and page faults hold better. Under real-time priority the commands run ahead of that work
// (the next sitting, load 9-12: 1.99-4.23×, median 3.04×), and nmap reads faster than on a quiet machine.
const busiest = Math.max(Number(loadBefore.split(' ')[0]), os.loadavg()[0]);
const busy = realTime ? 'the commands ran ahead of the other work, and nmap reads faster than on a quiet machine' : 'the wall figures wait on other work; compare CPU and faults, or sit again when the machine is quiet';
if (busiest > os.cpus().length) console.log(`  (load ${busiest.toFixed(1)} on ${os.cpus().length} cores: ${busy})`);
if (!bashFound) console.log('  (no bash: wall times from spawn to exit, no CPU time or page faults)');
