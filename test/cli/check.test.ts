/**
 * The checker as a user runs it, against real TLS/TCP servers on loopback, names pinned with --resolve and the test
 * CA trusted with --ca: the built CLI in a child process for exit codes, streams and colour; the same program in
 * process (runInProcess) for what it decides and prints.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import type { Report } from '../../src/types.js';
import { FileError, UsageError } from '../../src/errors.js';
import { parsePin } from '../../src/probes/dns.js';
import { resolveRuleSets } from '../../src/rules/builtin.js';
import { runCli, runInProcess } from '../helpers/cli.js';

function thrown(action: () => unknown): Error {
  try {
    action();
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error, none was thrown');
}

const ANSI = /\u001b\[/;
let dir: string;
let caFile: string;
const servers: net.Server[] = [];
let goodPort: number;
let interceptedPort: number;
let closedPort: number;

function listen(server: net.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)));
}

function ruleFile(name: string, rules: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `id: local\ntitle: Local test network\nrules:\n${rules}`);
  return file;
}

function rule(id: string, host: string, port: number, check: string, severity: string): string {
  return [
    `  - id: "${id}"`,
    `    host: ${host}`,
    `    ports: [${port}]`,
    `    check: ${check}`,
    `    purpose: Push Notifications`,
    `    impact: "Can’t send device information (rule ${id})"`,
    `    severity: ${severity}`,
    '',
  ].join('\n');
}

const PIN = ['--resolve', '*.push.test=127.0.0.1'];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-cli-'));
  const ca = await createCertificateAuthority('pushcheck test CA');
  const interceptor = await createCertificateAuthority('Corporate Inspection CA');
  caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  const good = await ca.issue({ names: ['good.push.test'] });
  const intercepted = await interceptor.issue({ names: ['intercepted.push.test'] });
  goodPort = await listen(tls.createServer({ cert: good.cert, key: good.key }, (s) => s.end()));
  interceptedPort = await listen(tls.createServer({ cert: intercepted.cert, key: intercepted.key }, (s) => s.end()));
  const closer = net.createServer();
  closedPort = await new Promise<number>((resolve) =>
    closer.listen(0, '127.0.0.1', () => {
      const { port } = closer.address() as net.AddressInfo;
      closer.close(() => resolve(port));
    }),
  );
});

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  rmSync(dir, { recursive: true, force: true });
});

describe('pushcheck <rule file>', () => {
  it('passes a healthy network with exit code 0 and a JSON report', async () => {
    const file = ruleFile('healthy.yaml', rule('1', 'good.push.test', goodPort, 'tls', 'critical'));
    const run = await runCli([file, ...PIN, '--ca', caFile, '--format', 'json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const report = JSON.parse(run.stdout) as Report;
    expect(report.schemaVersion).toBe(1);
    expect(report.tool.name).toBe('pushcheck');
    expect(report.summary).toEqual({ total: 1, passed: 1, failed: 0, warned: 0, skipped: 0 });
    const [result] = report.results;
    expect(result).toMatchObject({ ruleset: 'local', rule: '1', host: 'good.push.test', port: goodPort, address: '127.0.0.1', status: 'pass', check: 'tls' });
    expect(result!.tls!.issuer).toContain('pushcheck test CA');
    expect(result!.timings.totalMs).toBeGreaterThan(0);
    expect(report.options.caFiles).toEqual([caFile]);
  });

  it('fails on a critical failure (exit 1), warns on a warning rule, classifies each', async () => {
    const file = ruleFile(
      'mixed.yaml',
      rule('1', 'good.push.test', goodPort, 'tls', 'critical') +
        rule('2', 'intercepted.push.test', interceptedPort, 'tls', 'warning') +
        rule('3', 'closed.push.test', closedPort, 'tcp', 'critical'),
    );
    const run = await runCli([file, ...PIN, '--ca', caFile, '--format', 'json']);
    expect(run.code).toBe(1);
    const report = JSON.parse(run.stdout) as Report;
    const byRule = Object.fromEntries(report.results.map((r) => [r.rule, r]));
    expect(byRule['1']!.status).toBe('pass');
    expect(byRule['2']!.status).toBe('warn');
    expect(byRule['2']!.error!.code).toBe('tls_untrusted');
    expect(byRule['2']!.tls?.issuer ?? byRule['2']!.error!.message).toContain('Corporate Inspection CA');
    expect(byRule['3']!.status).toBe('fail');
    expect(byRule['3']!.error!.code).toBe('tcp_refused');
    expect(byRule['3']!.impact).toBe('Can’t send device information (rule 3)');
    expect(report.summary).toEqual({ total: 3, passed: 1, failed: 1, warned: 1, skipped: 0 });
    expect(report.verdict).toBe('fail');
  });

  it('--strict makes warnings fail the run', async () => {
    const file = ruleFile('warn.yaml', rule('2', 'intercepted.push.test', interceptedPort, 'tls', 'warning'));
    expect((await runInProcess([file, ...PIN, '--ca', caFile])).code).toBe(0);
    expect((await runInProcess([file, ...PIN, '--ca', caFile, '--strict'])).code).toBe(1);
  });

  it('--insecure lets an untrusted certificate pass, still saying so', async () => {
    const file = ruleFile('insecure.yaml', rule('2', 'intercepted.push.test', interceptedPort, 'tls', 'critical'));
    const run = await runInProcess([file, ...PIN, '--insecure', '--format', 'json']);
    expect(run.code).toBe(0);
    const [result] = (JSON.parse(run.stdout) as Report).results;
    expect(result!.status).toBe('pass');
    expect(result!.tls!.trusted).toBe(false);
    expect(result!.note).toContain('certificate problem ignored (--insecure)');
  });

  it('prints a table with the failure code, hint and the vendor impact, without ANSI when not a terminal', async () => {
    const file = ruleFile('table.yaml', rule('3', 'closed.push.test', closedPort, 'tcp', 'critical'));
    const run = await runCli([file, ...PIN]);
    expect(run.code).toBe(1);
    expect(run.stdout).not.toMatch(ANSI);
    expect(run.stdout).toContain('tcp_refused');
    expect(run.stdout).toContain('hint');
    expect(run.stdout).toContain('Can’t send device information (rule 3)');
    expect(run.stdout).toMatch(/^FAIL: 1 critical target failed/m);
    expect(run.stderr).toBe(''); // no spinner off a terminal
  });

  it('colours with FORCE_COLOR and not with NO_COLOR', async () => {
    const file = ruleFile('colour.yaml', rule('1', 'good.push.test', goodPort, 'tls', 'critical'));
    const forced = await runCli([file, ...PIN, '--ca', caFile], { env: { FORCE_COLOR: '1' } });
    expect(forced.stdout).toMatch(ANSI);
    const plain = await runCli([file, ...PIN, '--ca', caFile], { env: { FORCE_COLOR: '', NO_COLOR: '1' } });
    expect(plain.stdout).not.toMatch(ANSI);
  });

  it('skips a rule whose URL needs a --var, saying how to supply it', async () => {
    const file = path.join(dir, 'var.yaml');
    writeFileSync(
      file,
      [
        'id: local',
        'title: needs a var',
        'rules:',
        '  - id: message-get',
        '    host: messages',
        '    url: "${messageUrl}"',
        '    ports: [443]',
        '    check: https',
        '    purpose: read the message file',
        '    impact: clients see no messages',
        '    severity: critical',
        '',
      ].join('\n'),
    );
    const run = await runInProcess([file, '--format', 'json']);
    expect(run.code).toBe(0);
    const [result] = (JSON.parse(run.stdout) as Report).results;
    expect(result!.status).toBe('skip');
    expect(result!.note).toContain('--var messageUrl=');
  });
});

describe('usage errors: one line, exit 2, no stack', () => {
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown rule set', ['no-such-set'], /no-such-set/],
    ['bad timeout', ['ios', '--timeout', 'abc'], /--timeout/],
    ['unreadable --ca', ['ios', '--ca', '/nonexistent/ca.pem'], /\/nonexistent\/ca\.pem/],
    ['unknown format', ['ios', '--format', 'xml'], /format/],
  ];
  function expectOneLineUsageError(run: { code: number | null; stdout: string; stderr: string }, pattern: RegExp): void {
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    const lines = run.stderr.trim().split('\n');
    expect(lines.at(-1)).toMatch(pattern);
    expect(run.stderr).not.toMatch(/\n\s+at /);
  }

  it.each(cases)('%s (in process)', async (_name, args, pattern) => {
    expectOneLineUsageError(await runInProcess(args), pattern);
  });

  // The process itself: one error commander finds in the arguments, one the command finds (a UsageError).
  it.each(cases.slice(0, 2))('%s, from the built CLI', async (_name, args, pattern) => {
    expectOneLineUsageError(await runCli(args), pattern);
  });

  // What the message says is pure: in process. That any such error exits 2 in one line is shown by the spawns above.
  it('a bad rule file names file, line and field (in process)', () => {
    const file = path.join(dir, 'bad-port.yaml');
    writeFileSync(file, 'id: bad\ntitle: Bad\nrules:\n  - id: "1"\n    host: a.test\n    ports: [65536]\n    check: tcp\n    purpose: p\n    impact: i\n    severity: critical\n');
    const error = thrown(() => resolveRuleSets([file]));
    expect(error).toBeInstanceOf(FileError);
    expect(error.message.split('\n')).toHaveLength(1);
    expect(error.message).toContain(`${file}:6`);
    expect(error.message).toContain('ports');
  });

  it('a bad --resolve is a one-line usage error naming it (in process)', () => {
    const error = thrown(() => parsePin('nonsense'));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toMatch(/--resolve|nonsense/);
    expect(error.message).not.toContain('\n');
  });
});

describe('pushcheck rules (in process)', () => {
  it('lists the seven built-in rule sets as JSON', async () => {
    const run = await runInProcess(['rules', 'list', '--format', 'json']);
    expect(run.code).toBe(0);
    const sets = JSON.parse(run.stdout) as Array<{ id: string; aliases: string[] }>;
    expect(sets.map((s) => s.id).sort()).toEqual(
      ['airwatch-apns', 'apple-push', 'google-fcm', 'ibi-aws', 'moki-android', 'moki-ios', 'opmanager'],
    );
    expect(sets.find((s) => s.id === 'moki-ios')!.aliases).toContain('ios');
  });

  it('shows a rule set by alias with ports expanded to numbers', async () => {
    const run = await runInProcess(['rules', 'show', 'android', '--format', 'json']);
    expect(run.code).toBe(0);
    const set = JSON.parse(run.stdout) as { id: string; rules: Array<{ host: string; ports: number[] }> };
    expect(set.id).toBe('moki-android');
    expect(set.rules.find((r) => r.host === 'gcm.googleapis.com')!.ports).toEqual([5228, 5229, 5230]);
  });

  it('validates a good file (exit 0) and a bad one (exit 2)', async () => {
    const good = ruleFile('valid.yaml', rule('1', 'good.push.test', 443, 'tls', 'critical'));
    const ok = await runInProcess(['rules', 'validate', good]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ok');
    const bad = path.join(dir, 'invalid.yaml');
    writeFileSync(bad, 'id: x\ntitle: y\nrules:\n  - id: "1"\n    host: a.test\n    ports: [443]\n    check: smtp\n    purpose: p\n    impact: i\n    severity: critical\n');
    const failed = await runInProcess(['rules', 'validate', bad]);
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain(`${bad}:7`);
  });
});
