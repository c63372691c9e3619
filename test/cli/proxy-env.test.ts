/**
 * Proxies from the environment as a user meets them: the built CLI with HTTPS_PROXY / ALL_PROXY / NO_PROXY set,
 * through real tinyproxy (CONNECT allowed to one port only, as most proxies allow 443 only) and microsocks.
 * The runs use the program in process (runInProcess, which sets the variables for the run); a bad variable's exit 2
 * is shown by the built CLI.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import type { Report } from '../../src/types.js';
import { runCli, runInProcess } from '../helpers/cli.js';
import { proxyTestsSkipped, startMicrosocks, startTinyproxy, type TestProxy } from '../helpers/proxies.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { closedPort, startTlsServer, type TestServer } from '../helpers/servers.js';
import { schemaErrors } from '../report/consumers.js';

const missing = proxyTestsSkipped('environment proxy tests');

const CREDENTIALS = { user: 'mdm-admin', password: 'Env-Secret.Pa55' };

let dir: string;
let caFile: string;
/** Reached through the proxy: its port is the one tinyproxy allows CONNECT to. */
let allowed: TestServer;
/** A second server on a port tinyproxy refuses: only a direct connection reaches it. */
let refusedByProxy: TestServer;
let tinyproxy: TestProxy;
let microsocks: TestProxy;

function ruleFile(name: string, rules: Array<{ id: string; host: string; port: number }>): string {
  const specs = rules.map(({ port, ...rule }) => ({ ...rule, ports: [port], check: 'tls' }));
  return writeRuleFile(path.join(dir, `${name}.yaml`), 'env-proxy', 'Behind a proxy from the environment', specs);
}

beforeAll(async () => {
  if (missing) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-env-proxy-'));
  const ca = await createCertificateAuthority('pushcheck env proxy CA');
  caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  const leaf = await ca.issue({ names: ['api.push.test', 'direct.push.test'] });
  allowed = await startTlsServer(leaf);
  refusedByProxy = await startTlsServer(leaf);
  tinyproxy = await startTinyproxy({ connectPorts: [allowed.port], auth: CREDENTIALS });
  microsocks = await startMicrosocks();
});

afterAll(async () => {
  await Promise.all([tinyproxy?.stop(), microsocks?.stop(), allowed?.close(), refusedByProxy?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const pins = ['--resolve', 'api.push.test=127.0.0.1', '--resolve', 'direct.push.test=127.0.0.1', '--resolve', 'courier.push.test=127.0.0.1'];

async function check(file: string, env: NodeJS.ProcessEnv, extra: string[] = []): Promise<{ report: Report; code: number | null; all: string }> {
  const json = path.join(dir, 'report.json');
  const run = await runInProcess([file, ...pins, '--ca', caFile, '--json', json, '--junit', '-', ...extra], { env });
  const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
  expect(schemaErrors(report)).toBeUndefined();
  return { report, code: run.code, all: `${run.stdout}${run.stderr}${readFileSync(json, 'utf8')}` };
}

describe.skipIf(missing !== undefined)('proxies from the environment', () => {
  it('HTTPS_PROXY carries every target; each result says through which proxy, the password masked everywhere', async () => {
    const file = ruleFile('through', [{ id: 'api', host: 'api.push.test', port: allowed.port }]);
    const { report, code, all } = await check(file, { HTTPS_PROXY: tinyproxy.urlWith(CREDENTIALS) });
    expect(code).toBe(0);
    expect(report.results[0]).toMatchObject({ status: 'pass', via: `http://mdm-admin:***@127.0.0.1:${tinyproxy.port}` });
    expect(report.options).toMatchObject({ proxy: `http://mdm-admin:***@127.0.0.1:${tinyproxy.port}`, proxySource: 'HTTPS_PROXY' });
    expect(all).not.toContain(CREDENTIALS.password);
  });

  it('a CONNECT refused to a device channel port says devices need a direct path there, and the 443 fallback', async () => {
    const file = ruleFile('device', [{ id: 'courier', host: 'courier.push.test', port: 5223 }]);
    const { report, code } = await check(file, { https_proxy: tinyproxy.urlWith(CREDENTIALS) });
    expect(code).toBe(1);
    const result = report.results[0]!;
    expect(result.error?.code).toBe('proxy_refused');
    expect(result.error?.hint).toContain('devices open port 5223 directly, not through an HTTP proxy');
    expect(result.error?.hint).toContain('443 fallback');
  });

  it('NO_PROXY exempts a host (curl rules): it goes direct, where the proxy would have refused it', async () => {
    const file = ruleFile('exempt', [
      { id: 'api', host: 'api.push.test', port: allowed.port },
      { id: 'direct', host: 'direct.push.test', port: refusedByProxy.port },
    ]);
    const env = { HTTPS_PROXY: tinyproxy.urlWith(CREDENTIALS) };
    const without = await check(file, env);
    expect(without.report.results.map((r) => [r.rule, r.status, r.error?.code])).toEqual([
      ['api', 'pass', undefined],
      ['direct', 'fail', 'proxy_refused'],
    ]);
    const { report, code } = await check(file, { ...env, NO_PROXY: 'localhost, .direct.push.test' });
    expect(code).toBe(0);
    expect(report.results.map((r) => [r.rule, r.status, r.via])).toEqual([
      ['api', 'pass', `http://mdm-admin:***@127.0.0.1:${tinyproxy.port}`],
      ['direct', 'pass', 'direct'],
    ]);
    expect(report.options.noProxy).toEqual(['localhost', '.direct.push.test']);
  });

  it('ALL_PROXY with a SOCKS5 proxy (microsocks) is used when no HTTPS_PROXY is set', async () => {
    const file = ruleFile('socks', [{ id: 'direct', host: 'direct.push.test', port: refusedByProxy.port }]);
    const { report, code } = await check(file, { ALL_PROXY: microsocks.url });
    expect(code).toBe(0);
    expect(report.results[0]).toMatchObject({ status: 'pass', via: microsocks.url });
    expect(report.options.proxySource).toBe('ALL_PROXY');
  });

  it('--no-proxy ignores the environment; --proxy overrides it', async () => {
    const file = ruleFile('ignored', [{ id: 'direct', host: 'direct.push.test', port: refusedByProxy.port }]);
    const dead = `http://127.0.0.1:${await closedPort()}`;
    const ignored = await check(file, { HTTPS_PROXY: dead }, ['--no-proxy']);
    expect(ignored.code).toBe(0);
    expect(ignored.report.results[0]).toMatchObject({ status: 'pass', via: 'direct' });
    expect(ignored.report.options.proxy).toBeUndefined();
    const unreachable = await check(file, { HTTPS_PROXY: dead });
    expect(unreachable.report.results[0]!.error?.code).toBe('proxy_unreachable');
    const overridden = await check(file, { HTTPS_PROXY: dead }, ['--proxy', microsocks.url]);
    expect(overridden.report.results[0]).toMatchObject({ status: 'pass', via: microsocks.url });
    expect(overridden.report.options.proxySource).toBe('--proxy');
  });

  it('a bad proxy variable is a one-line error naming it, exit 2, the password never shown', async () => {
    const run = await runCli([ruleFile('bad', [{ id: 'a', host: 'api.push.test', port: 443 }])], {
      env: { HTTPS_PROXY: 'gopher://admin:Env-Secret.Pa55@proxy:70' },
    });
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('HTTPS_PROXY "gopher://***@proxy:70": unknown scheme "gopher"');
    expect(run.stderr).not.toContain('Env-Secret');
  });
});
