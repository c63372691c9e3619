/**
 * `--proxy` as a user runs it: the built CLI through real proxies on loopback (tinyproxy, microsocks) that want a
 * password. The password must leave in no output at all, whatever the format and whether the proxy took it.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import type { Report } from '../../src/types.js';
import { runCli } from '../helpers/cli.js';
import { schemaErrors } from '../report/consumers.js';
import { proxyToolsMissing, startMicrosocks, startTinyproxy, type TestProxy } from '../helpers/proxies.js';
import { closedPort, startTlsServer, type TestServer } from '../helpers/servers.js';

const missing = proxyToolsMissing();
if (missing) console.log(`CLI tests through tinyproxy and microsocks skipped: ${missing}`);

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
  ruleFile = path.join(dir, 'rules.yaml');
  writeFileSync(
    ruleFile,
    [
      'id: behind-proxy',
      'title: Behind a proxy',
      'rules:',
      '  - id: courier',
      '    host: courier.push.test',
      `    ports: [${server.port}]`,
      '    check: tls',
      '    purpose: Push Notifications',
      '    impact: Devices get no pushes',
      '    severity: critical',
      '',
    ].join('\n'),
  );
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

const leaks = (text: string): boolean => [CREDENTIALS.password, WRONG, 'Secret.Pa55'].some((secret) => text.includes(secret));

describe.skipIf(missing !== undefined)('pushcheck --proxy', () => {
  it('records the proxy with the password masked, and no format, file or stderr ever shows the password', async () => {
    for (const proxy of proxies) {
      for (const [password, code] of [
        [CREDENTIALS.password, 0],
        [WRONG, 1],
      ] as const) {
        const json = path.join(dir, 'report.json');
        const url = proxy.urlWith({ user: CREDENTIALS.user, password });
        const args = ['--resolve', 'courier.push.test=127.0.0.1', '--ca', caFile, '--proxy', url];
        const outputs = ['--json', json, '--junit', '-', '--markdown', '-', '--prometheus', '-'];
        const run = await runCli([ruleFile, ...args, ...outputs]);
        const label = `${url} → ${run.stderr}`;
        expect(run.code, label).toBe(code);
        const report = JSON.parse(readFileSync(json, 'utf8')) as Report;
        const masked = `${proxy.url.split('://')[0]}://${CREDENTIALS.user}:***@127.0.0.1:${proxy.port}`;
        expect(schemaErrors(report)).toBeUndefined();
        expect(report.options.proxy).toBe(masked);
        expect(run.stdout).toContain(`name="options.proxy" value="${masked}"`);
        expect(report.results[0]!.timings.dnsMs).toBeUndefined();
        if (code === 1) expect(report.results[0]!.error?.code).toBe('proxy_auth');
        for (const text of [run.stdout, run.stderr, readFileSync(json, 'utf8')]) expect(leaks(text), label).toBe(false);
        // Every format to stdout as well, one at a time.
        for (const format of ['table', 'json', 'junit', 'markdown', 'prometheus']) {
          const single = await runCli([ruleFile, ...args, '--format', format]);
          expect(single.code, `${format}: ${single.stderr}`).toBe(code);
          expect(leaks(single.stdout + single.stderr), format).toBe(false);
        }
      }
    }
  });

  it('says which proxy cannot be reached: proxy_unreachable, exit 1', async () => {
    const down = await closedPort();
    const proxy = `socks5://${CREDENTIALS.user}:${CREDENTIALS.password}@127.0.0.1:${down}`;
    const table = await runCli([ruleFile, '--resolve', 'courier.push.test=127.0.0.1', '--proxy', proxy]);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain('proxy_unreachable: the proxy itself cannot be reached');
    const json = await runCli([ruleFile, '--resolve', 'courier.push.test=127.0.0.1', '--proxy', proxy, '--format', 'json']);
    const [result] = (JSON.parse(json.stdout) as Report).results;
    expect(result!.error).toMatchObject({ code: 'proxy_unreachable', phase: 'connect' });
    expect(result!.error!.message).toContain(`SOCKS5 proxy 127.0.0.1:${down}: connect ECONNREFUSED`);
    expect(leaks(table.stdout + table.stderr + json.stdout + json.stderr)).toBe(false);
  });
});

describe('pushcheck --proxy, mistyped', () => {
  it('is a one-line usage error with exit 2 that never shows the password', async () => {
    for (const proxy of [
      `ftp://${CREDENTIALS.user}:${CREDENTIALS.password}@proxy.corp:21`,
      `http://${CREDENTIALS.user}:${CREDENTIALS.password}@proxy.corp`,
      `${CREDENTIALS.user}:${CREDENTIALS.password}@proxy.corp:3128`,
      'garbage',
    ]) {
      const run = await runCli(['apns', '--proxy', proxy]);
      expect(run.code, proxy).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(/^pushcheck: --proxy "[^\n]*\n$/);
      expect(leaks(run.stderr), run.stderr).toBe(false);
    }
  });
});
