// Start-up, whole process against whole process: `pushcheck --version`, `--help` and `rules list` against a bare
// `node -e 0` of the same Node binary (goals, issue "speed": the first two within 1.5 times, rules list within 2).
// The machine is shared, so the commands run round by round, each round starting one command later than the one
// before (as cli.bench.js does): a change of load hits all of them alike, and the peer is not always first. Each
// figure is the median of the rounds, the first round (which fills caches, Node 22's compile cache among them) left
// out. Wall time is the goal's measure; CPU time (user + system) is printed beside it because on a busy machine it
// varies far less. Both are taken by bash around each run (bash-time.js). The load average is printed before and after each set of rounds.
// pushcheck runs as a user runs it, bin/pushcheck.js itself (its shell part, then the Node first on PATH), and neither it
// nor `node -e 0` gets NODE_EXTRA_CA_CERTS: bin/pushcheck.js starts Node without it, and Node 20 reads it at start-up
// (70 ms for this machine's bundle), which put `node -e 0` at 103 ms against 23 and `rules list` at 1.37× against 2.18×.
// BENCH_NODES=/path/to/node22,/path/to/node24 measures those Node binaries too, each against its own `node -e 0`;
// PUSHCHECK_BIN measures another build (an older checkout's bin/pushcheck.js) against the same peers;
// PUSHCHECK_BEFORE=<older checkout>/bin/pushcheck.js measures that one too, in the same rounds, for before and after.
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MEASURE, measured } from './bash-time.js';
import { benchOptions, build, rounds } from './options.js';
import { shuffler } from './shuffled.js';

const { BIN, BEFORE, ROUNDS } = benchOptions((env) => ({
  BIN: build(env, 'PUSHCHECK_BIN', fileURLToPath(new URL('../bin/pushcheck.js', import.meta.url))),
  BEFORE: build(env, 'PUSHCHECK_BEFORE'),
  ROUNDS: rounds(env, 'BENCH_RUNS', 15),
}));
const NODES = [process.execPath, ...(process.env.BENCH_NODES ?? '').split(',').filter(Boolean)];
const GOALS = { '--version': 1.5, '--help': 1.5, 'rules list': 2 };

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const load = () => os.loadavg()[0].toFixed(1);

/** Wall and CPU time of one run, in ms; the run must succeed. */
function timed(command, env) {
  const run = spawnSync('bash', ['-c', MEASURE, 'bash', '/dev/null', ...command], { encoding: 'utf8', env });
  if (run.status !== 0) throw new Error(`${command.join(' ')} exited ${run.status}: ${run.stderr}`);
  return measured(run.stdout);
}

for (const node of NODES) {
  const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH ?? ''}` };
  delete env.NODE_EXTRA_CA_CERTS;
  const commands = [['node -e 0', [node, '-e', '0']], ...Object.keys(GOALS).map((args) => [`pushcheck ${args}`, [BIN, ...args.split(' ')]])];
  if (BEFORE) commands.push(...Object.keys(GOALS).map((args) => [`before: ${args}`, [BEFORE, ...args.split(' ')]]));
  const figures = new Map(commands.map(([name]) => [name, { wall: [], cpu: [] }]));
  const loadBefore = load();
  const shuffled = shuffler();
  for (let round = 0; round <= ROUNDS; round += 1) {
    for (const [name, args] of shuffled(commands)) {
      const run = timed(args, env);
      if (round === 0) continue;
      figures.get(name).wall.push(run.wallMs);
      figures.get(name).cpu.push(run.cpuMs);
    }
  }
  console.log(`\nstart-up on Node ${version}: medians of ${ROUNDS} rounds, load average ${loadBefore} → ${load()} on ${os.cpus().length} cores`);
  console.log(`  ${''.padEnd(22)} ${'wall'.padStart(8)} ${'ratio'.padStart(7)} ${'cpu'.padStart(8)} ${'ratio'.padStart(7)}  goal`);
  const base = figures.get('node -e 0');
  const [baseWall, baseCpu] = [median(base.wall), median(base.cpu)];
  for (const [name] of commands) {
    const { wall, cpu } = figures.get(name);
    const [w, c] = [median(wall), median(cpu)];
    const goal = GOALS[name.replace(/^(pushcheck|before:) /, '')];
    const ratios = name === 'node -e 0' ? ['', ''] : [`${(w / baseWall).toFixed(2)}×`, `${(c / baseCpu).toFixed(2)}×`];
    console.log(`  ${name.padEnd(22)} ${`${w.toFixed(0)} ms`.padStart(8)} ${ratios[0].padStart(7)} ${`${c.toFixed(0)} ms`.padStart(8)} ${ratios[1].padStart(7)}  ${goal ? `≤ ${goal}×` : ''}`);
  }
}
