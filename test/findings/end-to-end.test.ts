/**
 * Findings end to end: the built CLI run as a user runs it, against networks that really behave so.
 *
 * In network namespaces (test/faults/netns.ts; pushcheck in the client namespace, servers and nftables in the
 * server namespace, each host on an address of its own):
 *   only 443 open        nft drops 5223 and 2197 to 10.213.0.2, where a healthy TLS server listens on all three
 *   one host rejected    nft rejects (TCP reset) everything to 10.213.1.3; 10.213.1.2 answers on the same ports
 *   TLS interception     10.213.1.4 answers vendor names with a certificate of "Corporate Inspection CA" (not --ca)
 *   no DNS server        --dns-server 10.213.0.2:53, where nothing listens
 * On loopback:
 *   a proxy for 443 only tinyproxy allowing CONNECT to one TLS server's port and not the other's (proxy_refuses_ports)
 *   a moved clock        two TLS servers with certificates of two unrelated CAs, pushcheck run under Debian's
 *                        faketime 400 days ahead; the same run without faketime passes with no finding
 *   the demo             its default network gives the findings its problems call for; --clean gives none
 * On loopback, where no namespace or faketime needs a process of its own, the program runs in process (runInProcess).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/harness/certs.js';
import type { Finding, FindingCause, Report } from '../../src/types.js';
import { announceSkip, createFaultNetwork, faultNetworkUnavailable, SERVER_ADDRESS, type FaultNetwork } from '../faults/netns.js';
import { runCli, runInProcess, type CliRun, type InProcessRun } from '../helpers/cli.js';
import { proxyTestsSkipped, startTinyproxy, type TestProxy } from '../helpers/proxies.js';
import { closedPort, startTcpServer, startTlsServer, type TestServer } from '../helpers/servers.js';
import { nonEmpty } from '../helpers/non-empty.js';
import { busyFor, networkVerdict, watchLoop } from '../helpers/starved.js';
import { writeRuleFile, type RuleSpec } from '../helpers/rule-file.js';

const TIMEOUT_MS = 1000;
const HOST_B = '10.213.1.2';
const HOST_C = '10.213.1.3';
const INTERCEPTED = '10.213.1.4';

let dir: string;
let files = 0;

/** A rule of a test here: TLS, and a fallback (to 443 for 5223, within the rule) when `fallback` gives its note. */
interface FindingsRule extends Omit<RuleSpec, 'check' | 'fallback'> {
  fallback?: string;
}

function ruleFile(rules: FindingsRule[]): string {
  files += 1;
  const specs = rules.map(({ fallback, ...rule }): RuleSpec => ({
    ...rule,
    check: 'tls',
    ...(fallback && { fallback: { rule: rule.id, ports: [443], for: [5223], note: fallback } }),
  }));
  return writeRuleFile(path.join(dir, `rules-${files}.yaml`), 'findings', 'Findings end to end', specs);
}

function reportOf(run: CliRun | InProcessRun): Report {
  if ('signal' in run) expect(run.signal, 'pushcheck was killed').toBeNull();
  expect(run.stderr).toBe('');
  const report = JSON.parse(run.stdout) as Report;
  expect(run.code).toBe(report.exitCode);
  return report;
}

function causes(report: Report): FindingCause[] {
  return report.findings.map((f) => f.cause);
}

function only(report: Report, cause: FindingCause): Finding {
  expect(causes(report), JSON.stringify(report.findings, null, 2)).toEqual([cause]);
  return report.findings[0]!;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-findings-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const unavailable = await faultNetworkUnavailable();
announceSkip('findings in network namespaces', unavailable);

describe.skipIf(unavailable !== undefined)('findings in network namespaces', () => {
  let net: FaultNetwork | undefined;
  let caFile: string;

  beforeAll(async () => {
    const ca = await createCertificateAuthority('pushcheck findings CA');
    const interceptor = await createCertificateAuthority('Corporate Inspection CA');
    caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, ca.cert);
    const vendorNames = ['*.push.apple.com', 'mokimanage.com', 'mokirouter.appspot.com'];
    const good = await ca.issue({ names: vendorNames });
    net = await createFaultNetwork();
    for (const address of [HOST_B, HOST_C, INTERCEPTED]) await net.addAddress(address);
    await net.firewall([
      // The firewall lets only web ports out to this address: healthy servers stand behind it on all three.
      `ip daddr ${SERVER_ADDRESS} tcp dport { 5223, 2197 } drop`,
      // One host is blocked outright (a reset, as a firewall that rejects).
      `ip daddr ${HOST_C} tcp dport { 443, 5223 } reject with tcp reset`,
    ]);
    await net.startServer('tls', '443,5223,2197', good);
    await net.startServer('tls', '443,5223', good, HOST_B);
    await net.startServer('tls', '443,5223', good, HOST_C);
    await net.startServer('tls', '443', await interceptor.issue({ names: vendorNames }), INTERCEPTED);
  });

  afterAll(async () => {
    await net?.close();
  });

  async function check(rules: FindingsRule[], args: string[]): Promise<Report> {
    return reportOf(await net!.pushcheck([ruleFile(rules), '--format', 'json', '--timeout', String(TIMEOUT_MS), '--ca', caFile, ...args]));
  }

  it('only 443 open → ports_blocked, naming the ports, the hosts and which devices fall back', async () => {
    const report = await check(
      [
        { id: 'courier', host: '1-courier.push.apple.com', ports: [5223, 443], fallback: 'Apple devices fall back to TCP 443 on Wi-Fi' },
        { id: 'provider', host: 'api.push.apple.com', ports: [443, 2197] },
      ],
      ['--resolve', `*.push.apple.com=${SERVER_ADDRESS}`],
    );
    expect(nonEmpty(report.results.filter((r) => r.port === 443), 'the results on 443').every((r) => r.status === 'pass')).toBe(true);
    const finding = only(report, 'ports_blocked');
    expect(finding).toMatchObject({ severity: 'critical', targets: 2, rulesets: ['findings'] });
    expect(finding.summary).toBe(
      "The firewall lets TCP 443 through but blocks TCP 2197 and 5223 to the same vendors' hosts: it allows only web ports.",
    );
    expect(finding.action).toBe('Allow outbound TCP 5223 to 1-courier.push.apple.com; TCP 2197 to api.push.apple.com.');
    expect(finding.detail).toBe(
      'Devices fall back to TCP 443 for 5223 (Apple devices fall back to TCP 443 on Wi-Fi); nothing falls back for ' +
        'api.push.apple.com on TCP 2197 (findings/provider).',
    );
  });

  it('one host rejected → host_blocked, naming the host and its address', async () => {
    const report = await check(
      [
        { id: 'manage', host: 'mokimanage.com', ports: [443, 5223] },
        { id: 'router', host: 'mokirouter.appspot.com', ports: [443, 5223] },
      ],
      ['--resolve', `mokimanage.com=${HOST_B}`, '--resolve', `mokirouter.appspot.com=${HOST_C}`],
    );
    expect(report.results.map((r) => r.error?.code ?? r.status)).toEqual(['pass', 'pass', 'tcp_refused', 'tcp_refused']);
    const finding = only(report, 'host_blocked');
    expect(finding).toMatchObject({ severity: 'critical', targets: 2 });
    expect(finding.summary).toMatch(/: mokirouter\.appspot\.com is blocked by name or by address\.$/);
    expect(finding.action).toBe(
      `Allow outbound traffic to mokirouter.appspot.com (${HOST_C}) on TCP 443 and 5223, and take it off URL, SNI and address blocklists.`,
    );
  });

  it('a TLS server with another CA on vendor names → tls_interception, naming the issuer and what to exempt', async () => {
    const report = await check(
      [
        { id: 'provider', host: 'api.push.apple.com', ports: [443] },
        { id: 'courier', host: '1-courier.push.apple.com', ports: [443] },
      ],
      ['--resolve', `*.push.apple.com=${INTERCEPTED}`],
    );
    expect(report.results.map((r) => r.error?.code)).toEqual(['tls_untrusted', 'tls_untrusted']);
    const finding = only(report, 'tls_interception');
    expect(finding).toMatchObject({ severity: 'critical', subject: 'Corporate Inspection CA', targets: 2 });
    expect(finding.action).toBe('Exempt from TLS inspection: *.push.apple.com.');
  });

  it('no DNS server → no_dns, and nothing else', async () => {
    const report = await check(
      [
        { id: 'provider', host: 'api.push.apple.com', ports: [443, 2197] },
        { id: 'manage', host: 'mokimanage.com', ports: [443] },
      ],
      ['--dns-server', `${SERVER_ADDRESS}:53`],
    );
    expect(nonEmpty(report.results).every((r) => r.error?.phase === 'dns')).toBe(true);
    const finding = only(report, 'no_dns');
    expect(finding).toMatchObject({ severity: 'critical', targets: 3 });
    expect(finding.summary).toMatch(/^None of the 2 names checked resolves from this machine/);
  });

  it('a healthy network → no findings', async () => {
    const report = await check(
      [
        { id: 'manage', host: 'mokimanage.com', ports: [443, 5223] },
        { id: 'courier', host: '1-courier.push.apple.com', ports: [443] },
      ],
      ['--resolve', `mokimanage.com=${HOST_B}`, '--resolve', `*.push.apple.com=${SERVER_ADDRESS}`],
    );
    expect(nonEmpty(report.results).every((r) => r.status === 'pass')).toBe(true);
    expect(report.findings).toEqual([]);
  });
});

const run = promisify(execFile);

/** Why faketime cannot move Node's clock here; undefined when it can (tried for real). */
async function faketimeUnavailable(): Promise<string | undefined> {
  try {
    const { stdout } = await run('faketime', ['-f', '+400d', process.execPath, '-e', 'process.stdout.write(String(Date.now()))']);
    const movedDays = (Number(stdout) - Date.now()) / 86_400_000;
    return movedDays > 399 && movedDays < 401 ? undefined : `faketime ran Node, but its clock moved ${movedDays.toFixed(1)} days, not 400`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'faketime not found (apt-get install faketime)' : `faketime failed: ${String(err)}`;
  }
}

const noFaketime = await faketimeUnavailable();
if (noFaketime !== undefined) {
  if (process.env.CI === 'true') throw new Error(`clock_skew end to end cannot run: ${noFaketime} (CI=true)`);
  console.log(`clock_skew end to end skipped: ${noFaketime}`);
}

describe.skipIf(noFaketime !== undefined)('clock_skew on loopback, with faketime', () => {
  const servers: TestServer[] = [];
  let caFile: string;
  let file: string;
  let cas: CertificateAuthority[];

  beforeAll(async () => {
    cas = [await createCertificateAuthority('Alpha Root CA', 2000), await createCertificateAuthority('Beta Trust Services', 2000)];
    caFile = path.join(dir, 'two-cas.pem');
    writeFileSync(caFile, cas.map((ca) => ca.cert).join(''));
    const hosts = ['api.push.apple.com', 'mtalk.google.com'];
    for (const [i, ca] of cas.entries()) {
      // 90 days, as the test servers' certificates are: 400 days on, both have expired.
      const cert = await ca.issue({ names: [hosts[i]!] });
      servers.push(await startTlsServer({ cert: cert.cert, key: cert.key }));
    }
    file = ruleFile(hosts.map((host, i) => ({ id: `r${i}`, host, ports: [servers[i]!.port] })));
  });

  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()));
  });

  const args = (): string[] => [
    file, '--format', 'json', '--ca', caFile, '--timeout', '3000',
    '--resolve', 'api.push.apple.com=127.0.0.1', '--resolve', 'mtalk.google.com=127.0.0.1',
  ];

  it('a clock 400 days ahead → clock_skew over both issuers, with the day the clock read', async () => {
    const report = reportOf(
      await runCli(args(), { wrapper: ['faketime', '-f', '+400d'], env: { FAKETIME_DONT_FAKE_MONOTONIC: '1' } }),
    );
    expect(report.results.map((r) => r.error?.code)).toEqual(['tls_expired', 'tls_expired']);
    const finding = only(report, 'clock_skew');
    expect(finding).toMatchObject({ severity: 'critical', targets: 2 });
    const day = new Date(Date.now() + 400 * 86_400_000).toISOString().slice(0, 10);
    expect(report.startedAt.slice(0, 10)).toBe(day);
    expect(finding.summary).toBe(
      `Certificates from 2 unrelated issuers ("Alpha Root CA" and "Beta Trust Services") all count as expired: ` +
        `this machine's clock is wrong (it read ${day} when the run started), not the servers'.`,
    );
  });

  it('the same servers with the right clock → pass, no findings', async () => {
    const report = reportOf(await runInProcess(args()));
    expect(nonEmpty(report.results).every((r) => r.status === 'pass')).toBe(true);
    expect(report.findings).toEqual([]);
  });
});

const noProxy = proxyTestsSkipped('proxy_refuses_ports end to end');

describe.skipIf(noProxy !== undefined)('proxy_refuses_ports on loopback, through tinyproxy', () => {
  const servers: TestServer[] = [];
  let proxy: TestProxy | undefined;
  let caFile: string;

  beforeAll(async () => {
    const ca = await createCertificateAuthority('pushcheck proxy CA');
    caFile = path.join(dir, 'proxy-ca.pem');
    writeFileSync(caFile, ca.cert);
    const cert = await ca.issue({ names: ['1-courier.push.apple.com'] });
    for (let i = 0; i < 2; i += 1) servers.push(await startTlsServer({ cert: cert.cert, key: cert.key }));
    // The first server's port stands for 443, the only port this proxy tunnels to (as most proxies do).
    proxy = await startTinyproxy({ connectPorts: [servers[0]!.port] });
  });

  afterAll(async () => {
    await proxy?.stop();
    await Promise.all(servers.map((server) => server.close()));
  });

  it('CONNECT refused for the device port while the web port goes through → proxy_refuses_ports', async () => {
    const [web, device] = [servers[0]!.port, servers[1]!.port];
    const file = ruleFile([{ id: 'courier', host: '1-courier.push.apple.com', ports: [device, web] }]);
    const report = reportOf(
      await runInProcess([file, '--format', 'json', '--ca', caFile, '--proxy', proxy!.url, '--resolve', '1-courier.push.apple.com=127.0.0.1']),
    );
    expect(report.results.map((r) => r.error?.code ?? r.status)).toEqual(['proxy_refused', 'pass']);
    const finding = only(report, 'proxy_refuses_ports');
    expect(finding.summary).toBe(
      `The proxy (${proxy!.url}) refuses CONNECT to TCP ${device} but lets TCP ${web} through: devices do not use an ` +
        'HTTP proxy for these ports and need a direct path.',
    );
    expect(finding.action).toMatch(new RegExp(`^Allow devices outbound TCP ${device} directly through the firewall .* to 1-courier\\.push\\.apple\\.com;`));
  });
});

describe('ports_blocked on loopback: a fallback this machine was too busy to judge (local_overload)', () => {
  // 5223 stands for a refused port (nothing listens), 443 for a server that accepts and never answers a ClientHello:
  // with the loop held still for most of each wait, 443 reads local_overload and 5223 "fallback not judged".
  const NOTE = 'Apple devices fall back to TCP 443 on Wi-Fi';
  const HOST = '1-courier.push.apple.com';
  let mute: TestServer | undefined;
  let refused: number;
  let file: string;

  beforeAll(async () => {
    mute = await startTcpServer();
    refused = await closedPort();
    const fallback = { rule: 'courier', ports: [mute.port], for: [refused], note: NOTE };
    file = writeRuleFile(path.join(dir, 'unjudged.yaml'), 'findings', 'Findings end to end', [
      { id: 'courier', host: HOST, ports: [refused, mute.port], check: 'tls', fallback },
    ]);
  });

  afterAll(async () => {
    await mute?.close();
  });

  const args = (): string[] => [file, '--format', 'json', '--timeout', '600', '--resolve', `${HOST}=127.0.0.1`];
  const unjudgedText = (): string =>
    `Devices would fall back to TCP ${mute!.port} for ${refused} (${NOTE}), but this machine was too busy to judge ${HOST}:${mute!.port} (findings/courier).`;

  it('says devices would fall back, not that nothing does; `pushcheck report` gives the same text, saved findings or not', async () => {
    // The loop stands still 80 ms of every 100: each wait on the silent server measures this machine.
    const busy = setInterval(() => busyFor(80), 100);
    const report = reportOf(await runInProcess(args()).finally(() => clearInterval(busy)));
    const [blocked, fallback] = [refused, mute!.port].map((port) => report.results.find((r) => r.port === port)!);
    expect(fallback!.error?.code).toBe('local_overload');
    expect(blocked).toMatchObject({ status: 'warn', error: { code: 'tcp_refused' } });
    expect(blocked!.unjudgedFallback).toEqual({ rule: 'courier', host: HOST, port: mute!.port, note: NOTE });
    expect(blocked!.fallback).toBeUndefined();
    const finding = only(report, 'ports_blocked');
    expect(finding.detail).toBe(unjudgedText());
    expect(report.exitCode).toBe(0);

    const saved = path.join(dir, 'unjudged.json');
    writeFileSync(saved, JSON.stringify(report));
    const { findings: _derived, ...older } = report;
    const savedBefore = path.join(dir, 'unjudged-no-findings.json');
    writeFileSync(savedBefore, JSON.stringify(older));
    for (const format of ['json', 'table', 'markdown']) {
      // One at a time: runInProcess captures the process's own stdout.
      const again = await runInProcess(['report', saved, '--format', format]);
      const derived = await runInProcess(['report', savedBefore, '--format', format]);
      expect(again!.stderr).toBe('');
      if (format === 'json') {
        // Drawn findings come last in the object, where saved ones stood in their place: the same report otherwise.
        expect((JSON.parse(again!.stdout) as Report).findings).toEqual(report.findings);
        expect(JSON.parse(derived!.stdout)).toEqual(JSON.parse(again!.stdout));
      } else {
        expect(derived!.stdout, format).toBe(again!.stdout);
        expect(again!.stdout.replace(/\s+/g, ' '), format).toContain(`but this machine was too busy to judge ${HOST}:`);
      }
    }
  });

  it('with the loop free: nothing falls back (the silent 443 failed), and the result has no unjudgedFallback', async () => {
    const loop = watchLoop();
    const report = reportOf(await runInProcess(args()).finally(loop.stop));
    const [blocked, fallback] = [refused, mute!.port].map((port) => report.results.find((r) => r.port === port)!);
    // A busy machine may still starve the silent server's wait, as the loop's stalls bear out: then it is not judged.
    if (networkVerdict(fallback!, { timeoutMs: 600, stalledMs: loop.stalledMs() }).overloaded) {
      expect(only(report, 'ports_blocked').detail).toBe(unjudgedText());
      return;
    }
    expect(fallback!.status).toBe('fail');
    expect(blocked).toMatchObject({ status: 'fail', error: { code: 'tcp_refused' } });
    expect(Object.keys(blocked!)).not.toContain('unjudgedFallback');
    expect(only(report, 'ports_blocked').detail).toBe(`Nothing falls back for ${HOST} on TCP ${refused} (findings/courier).`);
  });
});

/** The demo's report; what it prints on stderr (what is wrong with its network) is for people. */
async function demoReport(args: string[]): Promise<Report> {
  const run = await runInProcess(['demo', '--format', 'json', ...args]);
  return reportOf({ ...run, stderr: '' });
}

describe('the demo', () => {
  let demo: Report | undefined;

  it('its default network gives the findings its problems call for', async () => {
    const loop = watchLoop();
    const report = await demoReport([]).finally(loop.stop);
    demo = report;
    const byCause = new Map(report.findings.map((f) => [f.cause, f]));
    expect([...byCause.keys()]).toEqual(['tls_interception', 'host_blocked', 'dns_filtered', 'ports_blocked', 'legacy_only']);
    expect(byCause.get('tls_interception')!).toMatchObject({ severity: 'critical', subject: 'Corporate TLS Inspection CA' });
    expect(byCause.get('tls_interception')!.action).toBe('Exempt from TLS inspection: api.push.apple.com.');
    expect(byCause.get('host_blocked')!.summary).toMatch(/mokirouter\.appspot\.com is blocked/);
    expect(byCause.get('dns_filtered')!.action).toMatch(/^Exempt from DNS filtering: api\.sandbox\.push\.apple\.com and networkcheck\.mokimobility\.com;/);
    expect(byCause.get('ports_blocked')!.summary).toMatch(/blocks TCP 25223 and 25228–25230/);
    expect(byCause.get('legacy_only')!).toMatchObject({ severity: 'info' });
    // The expired certificate of one appliance is that appliance's: no finding claims it, its row says it.
    const claimed = report.findings.reduce((sum, f) => sum + f.targets, 0);
    // A target a busy machine kept from being judged (local_overload, borne out by the loop's stalls) is no network's
    // problem: no finding explains it.
    const stalledMs = loop.stalledMs();
    const problems = report.results.filter(
      (r) => (r.status === 'fail' || r.status === 'warn') && !networkVerdict(r, { timeoutMs: report.options.timeoutMs, retries: report.options.retries, stalledMs }).overloaded,
    );
    expect(problems.length - claimed).toBe(1);
    expect(problems.find((r) => r.error?.code === 'tls_expired')!.host).toBe('fcm.googleapis.com');
  });

  it('--clean gives none', async () => {
    const report = await demoReport(['--clean']);
    expect(report.exitCode).toBe(0);
    expect(report.findings).toEqual([]);
    // diff: from the clean network to the default one, every finding appeared
    const [before, after] = [path.join(dir, 'clean.json'), path.join(dir, 'demo.json')];
    writeFileSync(before, JSON.stringify(report));
    writeFileSync(after, JSON.stringify(demo));
    const diff = await runInProcess(['diff', before, after, '--format', 'json']);
    const changes = JSON.parse(diff.stdout) as { findings: { appeared: Finding[]; wentAway: Finding[] } };
    expect(changes.findings.appeared.map((f) => f.cause)).toEqual(demo!.findings.map((f) => f.cause));
    expect(changes.findings.wentAway).toEqual([]);
  });

  it('pushcheck report renders the findings of a saved report, and draws them for one saved before findings existed', async () => {
    const { findings: _none, ...old } = demo!;
    const file = path.join(dir, 'old-demo.json');
    writeFileSync(file, JSON.stringify(old));
    const table = await runInProcess(['report', file]);
    expect(table.code).toBe(1);
    expect(table.stdout).toMatch(/Findings: 2 critical, 2 warnings, 1 info/);
    expect(table.stdout).toMatch(/CRITICAL tls_interception: A TLS inspection proxy/);
    const json = JSON.parse((await runInProcess(['report', file, '--format', 'json'])).stdout) as Report;
    expect(json.findings).toEqual(demo!.findings);
  });
});
