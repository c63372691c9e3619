// The pieces of the 1,000-target TCP run that cli.bench.js and tcp-sitting.bench.js share: the loopback listeners in
// a process of their own (loopback-targets.js), the rule file and pins that point pushcheck at them, nmap's command
// line for the same ports, and one checked run of a command against them.
import { fork } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
export const ms = (value) => `${value.toFixed(0)} ms`;
export const ratio = (a, b) => `${(a / b).toFixed(2)}×`;

/**
 * pushcheck runs as a user runs it, the file itself (its shebang), with the Node that runs the bench first on PATH:
 * bin/pushcheck.js's shell part starts `node` from PATH (and keeps Node 20 from reading NODE_EXTRA_CA_CERTS at start-up).
 */
export function thisNodeFirstOnPath() {
  process.env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${process.env.PATH ?? ''}`;
}

/** A one-rule rule file in dir, for pushcheck to check. */
export function ruleFile(dir, name, rule) {
  const file = path.join(dir, `${name}.yaml`);
  const lines = [`id: ${name}`, `title: ${name}`, 'rules:', '  - id: 1', `    host: ${rule.host}`, `    probe: [${rule.probe.join(', ')}]`, `    ports: [${rule.ports.join(', ')}]`, `    check: ${rule.check}`, '    purpose: bench', '    impact: bench', '    severity: critical'];
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/**
 * 1,000 loopback TCP targets: ten addresses × 100 ports, served by a process of their own (loopback-targets.js says
 * why), and the command lines that connect to each of them once:
 * - nmapArgs: `nmap -sT -Pn -n` on the same ports;
 * - rules and pins: pushcheck's rule file and its --resolve pins (bench names, so no DNS);
 * - beforeRules: PUSHCHECK_BEFORE's own copy of the same file: a rule file's parse is kept for the build that made it,
 *   one per path (src/rules/parsed.ts): two builds on one path each found the other's and parsed the file again;
 * - take(expected): how many connects the listeners saw since the last call, and when the first and the last came
 *   (performance.now()). The listeners answer once they have seen `expected` (or after 2 s): a connect the kernel
 *   completed before the command exited may not have reached their event loop yet on a starved machine, and counted
 *   at once it read as too few for this run and as too many for the next;
 * - close(): ends the listeners.
 */
export async function loopbackTargets(dir) {
  const addresses = Array.from({ length: 10 }, (_, i) => `127.0.1.${i + 1}`);
  const listeners = fork(fileURLToPath(new URL('./loopback-targets.js', import.meta.url)), addresses);
  const { ports } = await new Promise((resolve, reject) => {
    listeners.once('message', resolve);
    listeners.once('exit', (code) => reject(new Error(`the loopback listeners exited ${code}`)));
  });
  const take = (expected) =>
    new Promise((resolve) => {
      listeners.once('message', ({ count, first, last }) => resolve({ count, first: first - performance.timeOrigin, last: last - performance.timeOrigin }));
      listeners.send({ take: expected });
    });
  const rules = ruleFile(dir, 'tcp1000', { host: 'bench.test', probe: addresses.map((_, i) => `h${i}.bench.test`), ports, check: 'tcp' });
  const beforeRules = path.join(mkdtempSync(path.join(dir, 'before-')), 'tcp1000.yaml');
  copyFileSync(rules, beforeRules);
  return {
    addresses,
    ports,
    count: addresses.length * ports.length,
    nmapArgs: ['-sT', '-Pn', '-n', '-p', ports.join(','), `${addresses[0]}-${addresses.length}`],
    rules,
    beforeRules,
    pins: addresses.flatMap((address, i) => ['--resolve', `h${i}.bench.test=${address}`]),
    take,
    close: () => listeners.disconnect(),
  };
}

/**
 * One run of a command (run(), a promise of timedCpu's answer) against the targets, and what the listeners saw of
 * it; throws unless it exited 0 after exactly one connect to each target.
 */
export async function checkedRun(label, run, targets) {
  const result = await run();
  const seen = await targets.take(targets.count);
  if (result.code !== 0 || seen.count !== targets.count) throw new Error(`${label} on 1,000 TCP targets exited ${result.code} after ${seen.count} connects: ${result.stderr}`);
  return { result, seen };
}
