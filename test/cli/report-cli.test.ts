/**
 * Reports as a CI job and a support engineer get them: the built CLI against real loopback servers, several
 * reports from one run, each checked by its consumer (ajv, xmllint, cmark-gfm, promtool); a saved report
 * re-rendered and diffed; and Ctrl-C in the middle of a run leaving complete, valid files. What needs no process
 * (what is rendered, which file is refused) runs the same program in process (runInProcess).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import type { ReportDiff } from '../../src/report/diff.js';
import type { Report } from '../../src/types.js';
import { BIN, runCli, runInProcess } from '../helpers/cli.js';
import { closedPort, startTcpServer, startTlsServer, type TestServer } from '../helpers/servers.js';
import { markdownTree, promtoolCheck, schemaErrors, xmllintSchema, xpath } from '../report/consumers.js';

let dir: string;
let caFile: string;
let good: TestServer;
let intercepted: TestServer;
/** Up for the first run, closed before the second: a target that newly fails. */
let flaky: TestServer;
/** Accepts and never answers: its probes wait for their timeout, or for Ctrl-C. */
let silent: TestServer;
let refused: number;

const PIN = ['--resolve', '*.push.test=127.0.0.1'];

function rule(id: string, host: string, port: number, check: string, severity = 'critical'): string {
  return [
    `  - id: "${id}"`,
    `    host: ${host}`,
    `    ports: [${port}]`,
    `    check: ${check}`,
    '    purpose: Push Notifications',
    `    impact: "Can’t send device information (rule ${id})"`,
    `    severity: ${severity}`,
    '',
  ].join('\n');
}

function ruleFile(name: string, rules: string[]): string {
  const file = path.join(dir, name);
  writeFileSync(file, `id: local\ntitle: Local test network\nrules:\n${rules.join('')}`);
  return file;
}

/** A fresh directory for the reports of one run, so the test can see everything written into it. */
function outDir(): string {
  return mkdtempSync(path.join(dir, 'out-'));
}

function readJson<T = Report>(file: string): T {
  return JSON.parse(readFileSync(file, 'utf8')) as T;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-reports-'));
  const ca = await createCertificateAuthority('pushcheck test CA');
  const interceptor = await createCertificateAuthority('Corporate Inspection CA');
  caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  const goodCert = await ca.issue({ names: ['good.push.test', 'flaky.push.test'] });
  const badCert = await interceptor.issue({ names: ['intercepted.push.test'] });
  good = await startTlsServer({ cert: goodCert.cert, key: goodCert.key });
  flaky = await startTlsServer({ cert: goodCert.cert, key: goodCert.key });
  intercepted = await startTlsServer({ cert: badCert.cert, key: badCert.key });
  silent = await startTcpServer();
  refused = await closedPort();
});

afterAll(async () => {
  await Promise.all([good, flaky, intercepted, silent].map((s) => s?.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('one run, several reports', () => {
  let rules: string;
  let out: string;
  let live: Awaited<ReturnType<typeof runCli>>;
  const files = { json: '', junit: '', markdown: '', prometheus: '' };

  beforeAll(async () => {
    rules = ruleFile('several.yaml', [
      rule('1', 'good.push.test', good.port, 'tls'),
      rule('2', 'intercepted.push.test', intercepted.port, 'tls', 'warning'),
      rule('3', 'closed.push.test', refused, 'tcp'),
      rule('4', 'flaky.push.test', flaky.port, 'tls'),
    ]);
    out = outDir();
    files.json = path.join(out, 'report.json');
    files.junit = path.join(out, 'junit.xml');
    files.markdown = path.join(out, 'report.md');
    files.prometheus = path.join(out, 'pushcheck.prom');
    live = await runCli([
      rules,
      ...PIN,
      '--ca',
      caFile,
      '--json',
      files.json,
      '--junit',
      files.junit,
      '--markdown',
      files.markdown,
      '--prometheus',
      files.prometheus,
    ]);
  });

  it('prints the table and exits as the run says', () => {
    expect(live.stderr).toBe('');
    expect(live.code).toBe(1);
    expect(live.stdout).toMatch(/^FAIL: 1 critical target failed — 2 passed, 1 failed, 1 warned, 0 skipped of 4 targets/m);
  });

  it('writes exactly the files asked for, and no temporary file', () => {
    expect(readdirSync(out).sort()).toEqual(['junit.xml', 'pushcheck.prom', 'report.json', 'report.md']);
  });

  it('JSON: valid against the schema, with what support needs', () => {
    const report = readJson(files.json);
    expect(schemaErrors(report)).toBeUndefined();
    expect(report.summary).toEqual({ total: 4, passed: 2, failed: 1, warned: 1, skipped: 0 });
    expect(report.tool.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(report.environment.node).toBe(process.version);
    expect(report.environment.platform).toBe(process.platform);
    expect(report.options).toMatchObject({ resolve: ['*.push.test=127.0.0.1'], caFiles: [caFile], timeoutMs: 5000 });
    expect(Date.parse(report.startedAt)).not.toBeNaN();
    expect(report.durationMs).toBeGreaterThan(0);
  });

  it('JUnit: valid against junit-10.xsd, counts agreeing with the JSON report', () => {
    const xml = readFileSync(files.junit, 'utf8');
    expect(xmllintSchema(xml).status).toBe(0);
    expect(xpath(xml, 'string(/testsuites/@tests)')).toBe('4');
    expect(xpath(xml, 'string(/testsuites/testsuite/@failures)')).toBe('1');
    expect(xpath(xml, `string(//testcase[@name='rule 3 · closed.push.test:${refused} · IPv4']/failure/@type)`)).toBe('tcp_refused');
    expect(xpath(xml, `string(//testcase[@name='rule 2 · intercepted.push.test:${intercepted.port} · IPv4']/system-out)`)).toContain('tls_untrusted');
  });

  it('Markdown: GitHub parses a FAIL heading and one failure and one warning row', () => {
    const tree = markdownTree(readFileSync(files.markdown, 'utf8'));
    expect(xpath(tree, 'string(/document/heading[1])')).toBe('pushcheck: FAIL — 1 critical target failed');
    expect(xpath(tree, 'count(/document/table[1]/table_row)')).toBe('2');
  });

  it('Prometheus: promtool accepts it, and probe_success says which target failed', () => {
    const text = readFileSync(files.prometheus, 'utf8');
    const check = promtoolCheck(text);
    expect(check.stderr).toBe('');
    expect(check.status).toBe(0);
    expect(text).toContain(`probe_success{ruleset="local",rule="3",host="closed.push.test",port="${refused}",family="ipv4"} 0`);
    expect(text).toContain(`probe_success{ruleset="local",rule="1",host="good.push.test",port="${good.port}",family="ipv4"} 1`);
  });

  it('"-" sends a further report to stdout, after the --format one', async () => {
    const run = await runInProcess([rules, ...PIN, '--ca', caFile, '--format', 'json', '--junit', '-']);
    expect(run.code).toBe(1);
    const at = run.stdout.indexOf('<?xml');
    expect(at).toBeGreaterThan(0);
    expect(schemaErrors(JSON.parse(run.stdout.slice(0, at)))).toBeUndefined();
    expect(xmllintSchema(run.stdout.slice(at)).status).toBe(0);
  });

  it('--format prometheus prints what promtool accepts', async () => {
    const run = await runInProcess([rules, ...PIN, '--ca', caFile, '--format', 'prometheus']);
    expect(run.code).toBe(1);
    expect(promtoolCheck(run.stdout).status).toBe(0);
  });

  describe('pushcheck report: the saved report again', () => {
    it('prints the same table and exits with the same code as the live run', async () => {
      const again = await runCli(['report', files.json]);
      expect(again.stderr).toBe('');
      expect(again.code).toBe(live.code);
      expect(again.stdout).toBe(live.stdout);
    });

    it.each(['junit', 'markdown', 'prometheus'] as const)('renders the same %s as the file written live', async (format) => {
      const again = await runInProcess(['report', files.json, '--format', format]);
      expect(again.code).toBe(1);
      expect(again.stdout).toBe(readFileSync(files[format], 'utf8'));
    });

    it('gives back the same JSON', async () => {
      const again = await runInProcess(['report', files.json, '--format', 'json']);
      expect(JSON.parse(again.stdout)).toEqual(readJson(files.json));
    });

    it('can write further files too', async () => {
      const target = path.join(outDir(), 'again.xml');
      const again = await runInProcess(['report', files.json, '--format', 'markdown', '--junit', target]);
      expect(again.code).toBe(1);
      expect(readFileSync(target, 'utf8')).toBe(readFileSync(files.junit, 'utf8'));
    });
  });

  describe('pushcheck diff', () => {
    let later: string;

    beforeAll(async () => {
      await flaky.close();
      later = path.join(outDir(), 'later.json');
      const run = await runInProcess([rules, ...PIN, '--ca', caFile, '--format', 'json', '--json', later]);
      expect(run.code).toBe(1);
    });

    it('finds nothing newly failing between a report and itself (exit 0)', async () => {
      const run = await runInProcess(['diff', files.json, files.json]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/^0 newly failing, 0 fixed, 1 still failing, 0 with another failure code, 0 added, 0 removed, 0 other changes, 3 unchanged; findings: 0 appeared, 0 went away$/m);
      expect(run.stdout.trimEnd().split('\n').at(-1)).toBe('NOTHING NEWLY FAILING');
    });

    it('names the target that newly fails, and exits 1', async () => {
      const run = await runCli(['diff', files.json, later, '--format', 'json']);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(1);
      const diff = JSON.parse(run.stdout) as ReportDiff;
      const newly = diff.changes.filter((c) => c.kind === 'newly-failing');
      expect(newly).toHaveLength(1);
      expect(newly[0]).toMatchObject({ rule: '4', host: 'flaky.push.test', before: { status: 'pass' }, after: { status: 'fail', code: 'tcp_refused' } });
      expect(diff.changes.find((c) => c.rule === '3')!.kind).toBe('still-failing');
      expect(diff.counts.unchanged).toBe(2);
    });

    it('the other way round it is fixed, and exits 0', async () => {
      const run = await runInProcess(['diff', later, files.json]);
      expect(run.code).toBe(0);
      expect(run.stdout).toMatch(/fixed .*flaky\.push\.test/);
      expect(run.stdout).toContain('NOTHING NEWLY FAILING');
    });
  });
});

describe('reading a file that is not a report: one line, exit 2', () => {
  const cases: Array<[string, string, RegExp]> = [
    ['not JSON', '{"schemaVersion": 1, "tool":', /not JSON/],
    ['JSON but not a pushcheck report', '{"name": "pushcheck"}', /not a pushcheck report/],
    ['another schemaVersion', JSON.stringify({ schemaVersion: 2, tool: { name: 'pushcheck', version: '9.0.0' } }), /schemaVersion: 2 is not supported/],
    ['a pushcheck report of the wrong shape', JSON.stringify({ schemaVersion: 1, tool: { name: 'pushcheck', version: '0.1.0' } }), /not a valid pushcheck report: /],
  ];
  // In process: what each says is pure; the process's exit 2 and its one line are shown with the missing file below.
  it.each(cases.flatMap(([name, text, pattern]) => (['report', 'diff'] as const).map((command) => [name, command, text, pattern] as const)))(
    '%s (%s, in process)',
    async (name, command, text, pattern) => {
      const file = path.join(dir, `${name.replace(/\W+/g, '-')}.json`);
      writeFileSync(file, text);
      const run = await runInProcess(command === 'report' ? ['report', file] : ['diff', file, file]);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(run.stderr).toContain(`pushcheck: ${file}: `);
      expect(run.stderr).toMatch(pattern);
    },
  );

  it('a file that does not exist', async () => {
    const missing = path.join(dir, 'missing.json');
    const run = await runCli(['report', missing]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`pushcheck: ${missing}: cannot read it (ENOENT)\n`);
  });
});

it('refuses an output it could not write before probing anything (exit 2, in process)', async () => {
  const rules = ruleFile('never.yaml', [rule('1', 'silent.push.test', silent.port, 'tls')]);
  const before = silent.accepted;
  const missing = path.join(dir, 'no-such-dir', 'junit.xml');
  const run = await runInProcess([rules, ...PIN, '--timeout', '60000', '--junit', missing]);
  expect(run.code).toBe(2);
  expect(run.stderr).toBe(`pushcheck: --junit ${missing}: cannot write into ${path.dirname(missing)} (ENOENT)\n`);
  expect(silent.accepted).toBe(before);
});

describe('Ctrl-C or SIGTERM in the middle of a run', () => {
  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s skips what is pending as "interrupted", writes every report complete and valid, exits %i', async (stopSignal, exitCode) => {
    // Concurrency 3: the two fast targets finish at once, three slow ones then hang on the silent server and the
    // fourth waits for a slot, so both an in-flight and a never-started target are interrupted.
    const rules = ruleFile('slow.yaml', [
      rule('fast-pass', 'good.push.test', good.port, 'tls'),
      rule('fast-fail', 'closed.push.test', refused, 'tcp'),
      ...['slow-1', 'slow-2', 'slow-3', 'slow-4'].map((id) => rule(id, 'silent.push.test', silent.port, 'tls')),
    ]);
    const out = outDir();
    const json = path.join(out, 'report.json');
    const junit = path.join(out, 'junit.xml');
    const accepted = silent.accepted;
    const env = { ...process.env };
    for (const key of ['NO_COLOR', 'FORCE_COLOR', 'CI']) delete env[key];
    const started = performance.now();
    const child = spawn(
      process.execPath,
      [BIN, rules, ...PIN, '--ca', caFile, '--timeout', '60000', '--concurrency', '3', '--json', json, '--junit', junit],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);

    // The fast results are in once three slow probes hold every slot; then give it a moment more.
    while (silent.accepted < accepted + 3) {
      expect(performance.now() - started, 'the slow probes never started').toBeLessThan(15_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(readdirSync(out)).toEqual([]); // nothing written before the run ends
    child.kill(stopSignal);
    const code = await exited;
    clearTimeout(killer);

    expect(code).toBe(exitCode);
    expect(performance.now() - started).toBeLessThan(15_000); // far from the 60 s timeout
    expect(stdout).toMatch(/^INTERRUPTED: report holds what finished/m);
    expect(readdirSync(out).sort()).toEqual(['junit.xml', 'report.json']);

    const report = readJson(json);
    expect(schemaErrors(report)).toBeUndefined();
    expect(report).toMatchObject({ interrupted: true, exitCode });
    const status = Object.fromEntries(report.results.map((r) => [r.rule, [r.status, r.error?.code ?? r.note]]));
    expect(status).toEqual({
      'fast-pass': ['pass', undefined],
      'fast-fail': ['fail', 'tcp_refused'],
      'slow-1': ['skip', 'interrupted'],
      'slow-2': ['skip', 'interrupted'],
      'slow-3': ['skip', 'interrupted'],
      'slow-4': ['skip', 'interrupted'],
    });
    expect(report.results.find((r) => r.rule === 'slow-4')!.attempts).toBe(0); // never started

    const xml = readFileSync(junit, 'utf8');
    expect(xmllintSchema(xml).status).toBe(0);
    expect(xpath(xml, "count(//testcase/skipped[@message='interrupted'])")).toBe('4');
    expect(xpath(xml, 'string(/testsuites/@failures)')).toBe('1');
    expect(xpath(xml, 'string(/testsuites/@tests)')).toBe('6');

    // and the interrupted probes closed their connections
    await silent.idle(5000);
  });
});
