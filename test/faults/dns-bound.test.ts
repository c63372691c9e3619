/**
 * The time bound and DNS (docs/timeouts.md): the lookup a target starts with counts against its first attempt's
 * --timeout, and a slow or silent system resolver neither stretches a run past its bound nor keeps the process
 * running after the report. The system resolver here is the real one (glibc's getaddrinfo): pushcheck runs in a
 * network namespace whose /etc/resolv.conf (`ip netns exec` mounts /etc/netns/<name>/resolv.conf) names a real DNS
 * server on the namespace's loopback (ns-dns.mjs), which answers late or never; nftables drops one port there, so a
 * connect waits out what is left of the attempt. --resolve pins skip that resolver altogether.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/types.js';
import { runCli } from '../helpers/cli.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { announceSkip, expectWallWithin, faultNetworkUnavailable, reportBoundMs } from './netns.js';
import { networkVerdict } from '../helpers/starved.js';
import { runQueueWaitMs } from '../helpers/schedstat.cjs';
import { describeWitness, expectWithinTimeout, TIMER_SLACK_MS, witnessOf, type LoopWitness } from '../helpers/witness.js';

const run = promisify(execFile);
const NS_DNS = fileURLToPath(new URL('./ns-dns.mjs', import.meta.url));
const unavailable = await faultNetworkUnavailable();
announceSkip('the DNS time-bound tests', unavailable);

const TIMEOUT_MS = 1000;
const CONCURRENCY = 2;
const DROPPED_PORT = 7100;
const OPEN_PORT = 7200;
const NAMES = Array.from({ length: 6 }, (_, i) => `q${i}.quiet.test`);

// The fault helpers' name pattern, so that their clean-up of stale namespaces also knows this one.
const ns = `pc-${process.pid}-${randomBytes(3).toString('hex')}-c`;
const etcDir = path.join('/etc/netns', ns);
let dir: string;
let dnsServer: { child: ChildProcess; queries: string[] } | undefined;

async function startResolver(mode: 'answer' | 'silent', delayMs: number): Promise<string[]> {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, NS_DNS, mode, String(delayMs), NAMES.join(','), String(OPEN_PORT)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const queries: string[] = [];
  dnsServer = { child, queries };
  await new Promise<void>((resolve, reject) => {
    let buffered = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line === 'ready') resolve();
        else if (line.startsWith('query ')) queries.push(line.slice(6));
      }
    });
    child.once('exit', (code) => reject(new Error(`ns-dns.mjs exited (${code}) before it was ready`)));
  });
  return queries;
}

/**
 * ms the resolver's process has waited for a CPU so far (Linux's run queue): an answer it sends late by that much
 * measured this busy machine, not the resolver's delay. Undefined where the kernel does not say.
 */
function resolverRunQueueMs(): number | undefined {
  const pid = dnsServer?.child.pid;
  return pid === undefined ? undefined : runQueueWaitMs(`/proc/${pid}/schedstat`);
}

async function stopResolver(): Promise<void> {
  const server = dnsServer;
  dnsServer = undefined;
  if (!server || server.child.exitCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  await exited;
}

/**
 * pushcheck in the namespace, as JSON; the bound its report must keep, the child's wall time, and what its loop
 * witness saw (test/helpers/witness.ts).
 */
async function check(args: string[], concurrency = CONCURRENCY, retries = 0): Promise<{ report: Report; wallMs: number; bound: number; witness: LoopWitness }> {
  const file = writeRuleFile(path.join(dir, `${randomBytes(3).toString('hex')}.yaml`), 'dns-bound', 'DNS bound', [
    { id: 'quiet', host: '*.quiet.test', probe: NAMES, ports: [DROPPED_PORT], check: 'tcp' },
  ]);
  const result = await runCli([file, '--format', 'json', '--timeout', String(TIMEOUT_MS), '--concurrency', String(concurrency), '--retries', String(retries), ...args], {
    wrapper: ['ip', 'netns', 'exec', ns],
    killAfterMs: 60_000,
    witness: true,
  });
  expect(result.signal, 'pushcheck was killed').toBeNull();
  expect(result.stderr).toBe('');
  const report = JSON.parse(result.stdout) as Report;
  expect(report.results).toHaveLength(NAMES.length);
  return { report, wallMs: result.durationMs, bound: reportBoundMs(report, TIMEOUT_MS, concurrency, retries), witness: witnessOf(result) };
}

beforeAll(async () => {
  if (unavailable) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-dns-bound-'));
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
  mkdirSync(etcDir, { recursive: true });
  writeFileSync(path.join(etcDir, 'resolv.conf'), 'nameserver 127.0.0.1\n');
  writeFileSync(path.join(etcDir, 'hosts'), '127.0.0.1 localhost\n');
  const rules = `table inet bound {\n  chain input {\n    type filter hook input priority 0;\n    tcp dport ${DROPPED_PORT} drop\n  }\n}\n`;
  writeFileSync(path.join(dir, 'rules.nft'), rules);
  await run('ip', ['netns', 'exec', ns, 'nft', '-f', path.join(dir, 'rules.nft')]);
});

afterEach(stopResolver);

afterAll(async () => {
  await stopResolver();
  if (unavailable) return;
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  rmSync(etcDir, { recursive: true, force: true });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(unavailable !== undefined)('DNS inside the time bound (the system resolver, in a network namespace)', () => {
  it('a resolver that answers after 600 ms: the connect gets what is left of the 1000 ms, and the run keeps its bound', async () => {
    await startResolver('answer', 600);
    const queuedBefore = resolverRunQueueMs();
    const { report, wallMs, bound, witness } = await check([]);
    const resolverQueuedMs = (resolverRunQueueMs() ?? 0) - (queuedBefore ?? 0);
    console.log(`slow resolver: 6 targets, bound ${bound} ms: report ${report.durationMs} ms, wall ${Math.round(wallMs)} ms; ${describeWitness(witness)}; the resolver waited for a CPU ${Math.round(resolverQueuedMs)} ms`);
    for (const result of report.results) {
      // On a busy machine a starved attempt is tried once more, or reads local_overload (a warning that names this
      // verdict) where the witness saw the child stand still that long; its bound is then the wider one (reportBoundMs).
      // The connect after a 600 ms answer is judged on the time the answer left it (lookupMs: at most 700 ms of it).
      const verdict = networkVerdict(result, { timeoutMs: TIMEOUT_MS, stalledMs: witness.totalStallMs, lookupMs: 700 });
      if (!verdict.overloadRetried) expect(result.timings.dnsMs).toBeGreaterThanOrEqual(550);
      if (verdict.code === 'dns_timeout') {
        // An answer due at 600 ms came after 1000: only where the resolver or pushcheck waited for a CPU that long.
        expect(resolverQueuedMs + (witness.runQueueMs ?? 0), `${result.host}: a late answer on a machine that was not busy`).toBeGreaterThanOrEqual(TIMEOUT_MS - 600);
        continue;
      }
      expect(verdict.code).toBe('tcp_timeout');
      if (verdict.overloadRetried) {
        // The try after a starved one is handed the lookup already made (run.ts's `resolved`): its connect had the
        // whole timeout, and its timings are its own, with no lookup in them (dnsMs 0). After a first try starved in
        // its lookup, it looks the name up itself, and its message says what that took.
        expect(result.timings.connectMs, describeWitness(witness)).toBeLessThanOrEqual(TIMEOUT_MS + TIMER_SLACK_MS + witness.longestStallMs);
        if (!/the DNS lookup took/.test(verdict.message ?? '')) expect(result.timings.dnsMs).toBe(0);
        expect(result.timings.totalMs, describeWitness(witness)).toBeLessThanOrEqual(TIMEOUT_MS + TIMER_SLACK_MS + witness.longestStallMs);
        continue;
      }
      expectWithinTimeout(result, TIMEOUT_MS, witness);
      expect(verdict.message).toMatch(/the DNS lookup took \d+ ms of the 1000 ms timeout/);
    }
    // Three rounds of two: 3 s and the second. The lookup outside the attempt made it about 4.8 s.
    expect(report.durationMs).toBeLessThanOrEqual(bound);
    await expectWallWithin(wallMs, bound, ns, witness);
  });

  it('a resolver that never answers: dns_timeout in 1000 ms, and the process ends with the report (not 10 s of glibc retries later)', async () => {
    const queries = await startResolver('silent', 0);
    const { report, wallMs, bound, witness } = await check([]);
    console.log(`silent resolver: 6 targets, bound ${bound} ms: report ${report.durationMs} ms, wall ${Math.round(wallMs)} ms; ${describeWitness(witness)}`);
    for (const result of report.results) {
      expectWithinTimeout(result, TIMEOUT_MS, witness);
      const verdict = networkVerdict(result, { timeoutMs: TIMEOUT_MS, stalledMs: witness.totalStallMs });
      expect(verdict.code).toBe('dns_timeout');
      expect(verdict.phase).toBe('dns');
    }
    expect(report.durationMs).toBeLessThanOrEqual(bound);
    await expectWallWithin(wallMs, bound, ns, witness);
    expect(queries.length).toBeGreaterThan(0); // the resolver really was asked
  });

  it('six names at once to a resolver that never answers: two are asked (Node looks two up at a time), four are never sent, and none is sent after the run', async () => {
    const queries = await startResolver('silent', 0);
    const { report, wallMs, bound, witness } = await check([], NAMES.length);
    console.log(`silent resolver, 6 at once: bound ${bound} ms: report ${report.durationMs} ms, wall ${Math.round(wallMs)} ms; ${describeWitness(witness)}`);
    // On a busy machine a first attempt the child's loop starved is tried once more (networkVerdict checks the stall
    // the witness saw): that try asks again, and where a slot is free by then, its name reaches the resolver.
    const retried = new Set<string>();
    for (const result of report.results) {
      const verdict = networkVerdict(result, { timeoutMs: TIMEOUT_MS, stalledMs: witness.totalStallMs });
      expect(verdict.code, `${result.host}: ${verdict.message}`).toBe('dns_timeout');
      if (verdict.overloadRetried) {
        retried.add(result.host);
        continue;
      }
      // Queued third to sixth: 2, 3, 4 and 5 lookups ahead; the first two had a slot.
      const ahead = NAMES.indexOf(result.host);
      const unsent = /never sent: it waited behind (\d) lookups for one of Node's 2 resolver slots/.exec(verdict.message ?? '')?.[1];
      expect(unsent, `${result.host}: ${verdict.message}`).toBe(ahead < 2 ? undefined : String(ahead));
    }
    expect(report.durationMs).toBeLessThanOrEqual(bound);
    await expectWallWithin(wallMs, bound, ns, witness);
    // Only the two names that had a slot reached the resolver, then or later, and besides them only names tried again.
    const asked = [...new Set(queries.map((q) => q.split(' ')[0] ?? q))];
    expect(asked.slice(0, 2).sort()).toEqual(NAMES.slice(0, 2));
    expect(asked.slice(2).filter((name) => !retried.has(name)), `asked ${asked.join(', ')}; tried again ${[...retried].join(', ')}`).toEqual([]);
  });

  it('--retries 1 to a resolver that never answers: a retry that joins its name\'s lookup still under way reads dns_timeout, as its first attempt did', async () => {
    // The first attempt gives up at 1000 ms; glibc's own timeout (1 s) ends the lookup a moment later, with EAI_AGAIN,
    // which the retry that joined it gets: still the resolver's silence, not a failure of another kind.
    const queries = await startResolver('silent', 0);
    const { report, wallMs, bound, witness } = await check([], CONCURRENCY, 1);
    console.log(`silent resolver, --retries 1: bound ${bound} ms: report ${report.durationMs} ms, wall ${Math.round(wallMs)} ms; ${describeWitness(witness)}`);
    for (const result of report.results) {
      const verdict = networkVerdict(result, { timeoutMs: TIMEOUT_MS, retries: 1, stalledMs: witness.totalStallMs });
      expect(result.attempts).toBeGreaterThanOrEqual(2);
      expect(verdict.code, `${result.host}: ${verdict.message}`).toBe('dns_timeout');
      expect(verdict.message).toMatch(/timed out after \d+ ms/);
    }
    expect(report.durationMs).toBeLessThanOrEqual(bound);
    await expectWallWithin(wallMs, bound, ns, witness);
    expect(queries.length).toBeGreaterThan(0);
  });

  it('--resolve pins skip the silent resolver: every target passes at once and no query is sent', async () => {
    const queries = await startResolver('silent', 0);
    const file = writeRuleFile(path.join(dir, 'pinned.yaml'), 'pinned', 'Pinned', [
      { id: 'pinned', host: '*.quiet.test', probe: NAMES, ports: [OPEN_PORT], check: 'tcp' },
    ]);
    const result = await runCli([file, '--format', 'json', '--timeout', String(TIMEOUT_MS), '--resolve', '*.quiet.test=127.0.0.1'], {
      wrapper: ['ip', 'netns', 'exec', ns],
      witness: true,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as Report;
    // A pin is no lookup: 0 ms of DNS, the pinned address.
    expect(report.results.map((r) => [r.status, r.address, r.timings.dnsMs])).toEqual(NAMES.map(() => ['pass', '127.0.0.1', 0]));
    // Well within one timeout, give or take what the child's loop stood still on a busy machine (its witness).
    const witness = witnessOf(result);
    expect(report.durationMs, describeWitness(witness)).toBeLessThan(TIMEOUT_MS + witness.totalStallMs);
    await expectWallWithin(result.durationMs, TIMEOUT_MS, ns, witness);
    expect(queries).toEqual([]);
  });
});
