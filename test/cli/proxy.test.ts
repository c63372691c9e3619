/**
 * `--proxy` as a user runs it: the built CLI through real proxies on loopback (tinyproxy, microsocks) that want a
 * password. The password must leave in no output at all, whatever the format and whether the proxy took it.
 * Runs through the proxies use the program in process (runInProcess); the process is run for a mistyped --proxy.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import type { Report } from '../../src/types.js';
import { formats } from '../helpers/formats.js';
import { redactSecrets } from '../../src/secrets.js';
import { parseProxy } from '../../src/cli/proxy-option.js';
import { UsageError } from '../../src/errors.js';
import { runCli, runInProcess } from '../helpers/cli.js';
import { report as fixtureReport, result as fixtureResult } from '../report/fixture.js';
import { schemaErrors } from '../report/consumers.js';
import { proxyTestsSkipped, startMicrosocks, startTinyproxy, type TestProxy } from '../helpers/proxies.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { closedPort, startTlsServer, type TestServer } from '../helpers/servers.js';
import { thrownBy } from '../helpers/thrown.js';

const missing = proxyTestsSkipped('CLI tests through tinyproxy and microsocks');

/** tinyproxy's BasicAuth takes [-a-z0-9._] only. */
const CREDENTIALS = { user: 'mdm-admin', password: 'Sup3r-Secret.Pa55' };
const WRONG = 'Wr0ng-Secret.Pa55';

let dir: string;
let caFile: string;
let ruleFile: string;
let server: TestServer;
const proxies: TestProxy[] = [];

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-proxy-cli-'));
  const ca = await createCertificateAuthority('pushcheck proxy CA');
  caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  server = await startTlsServer(await ca.issue({ names: ['courier.push.test'] }));
  ruleFile = writeRuleFile(path.join(dir, 'rules.yaml'), 'behind-proxy', 'Behind a proxy', [
    { id: 'courier', host: 'courier.push.test', ports: [server.port], check: 'tls' },
  ]);
  proxies.push(
    await startTinyproxy({ connectPorts: [server.port], auth: CREDENTIALS }),
    await startMicrosocks({ auth: CREDENTIALS }),
  );
});

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A report as a run would have made it before redaction: the proxy URL, password and all, in its options and an error. */
function reportWith(url: string): Report {
  const failed = fixtureResult({
    status: 'fail',
    error: { code: 'proxy_auth', phase: 'connect', message: `the proxy ${url} rejected the user name and password`, hint: 'give the user and password the proxy expects' },
  });
  const base = fixtureReport([failed]);
  return { ...base, options: { ...base.options, proxy: url } };
}

const leaks = (text: string): boolean => [CREDENTIALS.password, WRONG, 'Secret.Pa55'].some((secret) => text.includes(secret));

describe.skipIf(missing !== undefined)('pushcheck --proxy', () => {
  // One run per proxy and password (was 24 processes in one test under one timeout), in process: the run writes
  // every format at once (table on stdout, --junit/--markdown/--prometheus to stdout, --json to a file).
  const cases = [
    ['tinyproxy', 'the right password', 0, CREDENTIALS.password, 0],
    ['tinyproxy', 'a wrong password', 0, WRONG, 1],
    ['microsocks', 'the right password', 1, CREDENTIALS.password, 0],
    ['microsocks', 'a wrong password', 1, WRONG, 1],
  ] as const;
  it.each(cases)('%s with %s: records the proxy with the password masked; no format, file or stderr shows it', async (_name, _what, index, password, code) => {
    const proxy = proxies[index]!;
    const json = path.join(dir, `report-${index}-${code}.json`);
    const url = proxy.urlWith({ user: CREDENTIALS.user, password });
    const args = ['--resolve', 'courier.push.test=127.0.0.1', '--ca', caFile, '--proxy', url];
    const outputs = ['--json', json, '--junit', '-', '--markdown', '-', '--prometheus', '-'];
    const run = await runInProcess([ruleFile, ...args, ...outputs]);
    const label = `${url} → ${run.stderr}`;
    expect(run.code, label).toBe(code);
    const saved = readFileSync(json, 'utf8');
    const report = JSON.parse(saved) as Report;
    const masked = `${proxy.url.split('://')[0]}://${CREDENTIALS.user}:***@127.0.0.1:${proxy.port}`;
    expect(schemaErrors(report)).toBeUndefined();
    expect(report.options.proxy).toBe(masked);
    expect(run.stdout).toContain(`name="options.proxy" value="${masked}"`);
    expect(run.stdout).toContain('# HELP'); // Prometheus text came too
    expect(run.stdout).toMatch(/^\| /m); // and Markdown
    expect(report.results[0]!.timings.dnsMs).toBeUndefined();
    if (code === 1) expect(report.results[0]!.error?.code).toBe('proxy_auth');
    for (const text of [run.stdout, run.stderr, saved]) expect(leaks(text), label).toBe(false);
  });

  it('renders no format with the password in it, even from a report that still carries it (in process)', () => {
    const url = proxies[0]!.urlWith({ user: CREDENTIALS.user, password: CREDENTIALS.password });
    const report = reportWith(url);
    expect(leaks(JSON.stringify(report))).toBe(true);
    for (const [name, format] of formats) {
      expect(leaks(format.render(redactSecrets(report), { color: false })), name).toBe(false);
    }
    expect(formats.size).toBeGreaterThanOrEqual(5);
  });

  it('says which proxy cannot be reached: proxy_unreachable, exit 1 (in process)', async () => {
    const down = await closedPort();
    const proxy = `socks5://${CREDENTIALS.user}:${CREDENTIALS.password}@127.0.0.1:${down}`;
    const table = await runInProcess([ruleFile, '--resolve', 'courier.push.test=127.0.0.1', '--proxy', proxy]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain('proxy_unreachable: the proxy itself cannot be reached');
    const json = await runInProcess([ruleFile, '--resolve', 'courier.push.test=127.0.0.1', '--proxy', proxy, '--format', 'json']);
    const [result] = (JSON.parse(json.stdout) as Report).results;
    expect(result!.error).toMatchObject({ code: 'proxy_unreachable', phase: 'connect' });
    expect(result!.error!.message).toContain(`SOCKS5 proxy 127.0.0.1:${down}: connect ECONNREFUSED`);
    expect(leaks(table.stdout + table.stderr + json.stdout + json.stderr)).toBe(false);
  });
});

describe('pushcheck --proxy, mistyped', () => {
  const mistyped = [
    `ftp://${CREDENTIALS.user}:${CREDENTIALS.password}@proxy.corp:21`,
    `http://${CREDENTIALS.user}:${CREDENTIALS.password}@proxy.corp`,
    `${CREDENTIALS.user}:${CREDENTIALS.password}@proxy.corp:3128`,
    'garbage',
  ];

  // What the option parser says is pure: in process. The process itself is run once, for the exit code and stderr.
  it.each(mistyped)('%s is a one-line usage error that never shows the password', (proxy) => {
    const { message } = thrownBy(() => parseProxy(proxy), UsageError);
    expect(message).toMatch(/^--proxy "[^\n]*$/);
    expect(leaks(message), message).toBe(false);
  });

  it('exits 2 with that line on stderr and nothing on stdout', async () => {
    const run = await runCli(['apns', '--proxy', mistyped[0]!]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^pushcheck: --proxy "[^\n]*\n$/);
    expect(leaks(run.stderr), run.stderr).toBe(false);
  });
});
