/**
 * The fault matrix: every fault made by real network behaviour in namespaces of our own (netns.ts), and pushcheck
 * run against it as a user runs it (the built CLI, a child process, its JSON report). Each row asserts the
 * failure code, the status, the verdict and exit code, and that the run ends within its bound
 * (timeout × ⌈targets / concurrency⌉ × (retries + 1) + 1 s).
 *
 * How each fault is made (server namespace 10.213.0.2, pushcheck in the client namespace 10.213.0.1):
 *   port open, TLS fine     ns-server.mjs tls with a certificate from the CA passed with --ca
 *   port closed             nothing listens on 7002
 *   port filtered           nft `tcp dport 7003 drop` in front of a healthy TLS server
 *   rejected with ICMP      nft `reject with icmp type admin-prohibited` / `host-unreachable` in front of one
 *   reset mid-handshake     ns-server.mjs reset-after-clienthello: RST when the ClientHello arrives
 *   silent server           ns-server.mjs silent: accepts, reads, never writes
 *   not TLS                 ns-server.mjs plain-text: answers the ClientHello with an HTTP 403 page
 *   unknown CA              certificate from "Corporate Inspection CA", which is not passed with --ca
 *   expired                 certificate of the trusted CA whose notAfter is 30 days ago
 *   wrong name              certificate of the trusted CA for other.example
 *   NXDOMAIN                dnsmasq on the client namespace's 127.0.0.1:53, `--local=/push.test/`
 *   DNS silent              --dns-server 10.213.0.2:53, where nft drops udp and tcp port 53
 *   outside the CIDR        dnsmasq answers outside.push.test with 10.213.0.2, the rule says 17.0.0.0/8
 *   5223 blocked, 443 open  nft `tcp dport 5223 drop` in front of a server listening on both
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import type { FailureCode, Report, Result, Status } from '../../src/types.js';
import { writeRuleFile, type RuleSpec } from '../helpers/rule-file.js';
import { witnessOf } from '../helpers/witness.js';
import {
  announceSkip,
  reportBoundMs,
  createFaultNetwork,
  dnsmasqUnavailable,
  expectWallWithin,
  faultNetworkUnavailable,
  namespaceExists,
  namespacePids,
  SERVER_ADDRESS,
  type FaultNetwork,
} from './netns.js';

const TIMEOUT_MS = 1000;
/** A timer may fire a little late on a busy machine; a probe's own timings may exceed --timeout by this much. */
const TIMER_SLACK_MS = 200;

const unavailable = await faultNetworkUnavailable();
const noDnsmasq = unavailable ?? (await dnsmasqUnavailable());
announceSkip('fault matrix', unavailable);
if (!unavailable) announceSkip('fault matrix DNS rows', noDnsmasq);


let dir: string;
let caFile: string;
let net: FaultNetwork | undefined;
let dnsmasq = '';
let files = 0;

function ruleFile(rules: RuleSpec[]): string {
  files += 1;
  return writeRuleFile(path.join(dir, `rules-${files}.yaml`), 'faults', 'Fault matrix', rules);
}

interface Checked {
  report: Report;
  wallMs: number;
  bound: number;
}

/** Runs pushcheck in the client namespace and checks what every row checks: JSON on stdout, nothing on stderr, the bound. */
async function check(rules: RuleSpec[], args: string[], concurrency = 64): Promise<Checked> {
  const file = ruleFile(rules);
  const run = await net!.pushcheck([file, '--format', 'json', '--timeout', String(TIMEOUT_MS), '--ca', caFile, ...args], { witness: true });
  expect(run.signal, 'pushcheck was killed').toBeNull();
  expect(run.stderr).toBe('');
  const report = JSON.parse(run.stdout) as Report;
  expect(run.code).toBe(report.exitCode);
  const bound = reportBoundMs(report, TIMEOUT_MS, concurrency, 0);
  expect(report.durationMs).toBeLessThanOrEqual(bound);
  await expectWallWithin(run.durationMs, bound, net!.client, witnessOf(run));
  return { report, wallMs: run.durationMs, bound };
}

function resultFor(report: Report, port: number): Result {
  const result = report.results.find((r) => r.port === port);
  if (!result) throw new Error(`no result for port ${port} in ${JSON.stringify(report.results)}`);
  return result;
}

const PIN = ['--resolve', `*.push.test=${SERVER_ADDRESS}`];

interface Row {
  fault: string;
  host: string;
  port: number;
  check?: 'tcp' | 'tls';
  /** How the host is found: pinned to the server (default), dnsmasq, or the resolver that drops queries. */
  dns?: 'dnsmasq' | 'silent';
  cidr?: string;
  status: Status;
  code?: FailureCode;
  exitCode: 0 | 1;
  /** The failure is a timeout: the probe must have waited about --timeout, and no longer. */
  timesOut?: boolean;
  message?: RegExp;
}

const ROWS: Row[] = [
  { fault: 'port open, TLS fine', host: 'ok.push.test', port: 7001, status: 'pass', exitCode: 0 },
  { fault: 'port open, plain TCP check', host: 'ok.push.test', port: 7001, check: 'tcp', status: 'pass', exitCode: 0 },
  { fault: 'port closed', host: 'closed.push.test', port: 7002, status: 'fail', code: 'tcp_refused', exitCode: 1, message: /ECONNREFUSED/ },
  { fault: 'port filtered (nft drop)', host: 'filtered.push.test', port: 7003, status: 'fail', code: 'tcp_timeout', exitCode: 1, timesOut: true },
  {
    fault: 'rejected with ICMP admin-prohibited',
    host: 'rejected.push.test',
    port: 7004,
    status: 'fail',
    code: 'tcp_unreachable',
    exitCode: 1,
    message: /EHOSTUNREACH/,
  },
  {
    fault: 'rejected with ICMP host-unreachable',
    host: 'rejected.push.test',
    port: 7011,
    status: 'fail',
    code: 'tcp_unreachable',
    exitCode: 1,
    message: /EHOSTUNREACH/,
  },
  {
    // Documented in the README: a reset inside the TLS handshake is tls_handshake_failed, "reset by peer".
    fault: 'reset mid-handshake',
    host: 'reset.push.test',
    port: 7005,
    status: 'fail',
    code: 'tls_handshake_failed',
    exitCode: 1,
    message: /reset by peer during the TLS handshake/,
  },
  {
    fault: 'silent server',
    host: 'silent.push.test',
    port: 7006,
    status: 'fail',
    code: 'tls_handshake_failed',
    exitCode: 1,
    timesOut: true,
    message: /timed out/,
  },
  {
    fault: 'not TLS (plain text)',
    host: 'plain.push.test',
    port: 7007,
    status: 'fail',
    code: 'tls_handshake_failed',
    exitCode: 1,
    message: /other than TLS/,
  },
  {
    fault: 'unknown CA (interception)',
    host: 'intercepted.push.test',
    port: 7008,
    status: 'fail',
    code: 'tls_untrusted',
    exitCode: 1,
    message: /Corporate Inspection CA/,
  },
  { fault: 'expired certificate', host: 'expired.push.test', port: 7009, status: 'fail', code: 'tls_expired', exitCode: 1 },
  {
    fault: 'certificate for another host',
    host: 'wrongname.push.test',
    port: 7010,
    status: 'fail',
    code: 'tls_hostname_mismatch',
    exitCode: 1,
    message: /other\.example/,
  },
  {
    fault: 'warning-severity rule on a closed port',
    host: 'closed.push.test',
    port: 7002,
    status: 'warn',
    code: 'tcp_refused',
    exitCode: 0,
  },
  {
    fault: 'NXDOMAIN (dnsmasq)',
    host: 'missing.push.test',
    port: 7001,
    dns: 'dnsmasq',
    status: 'fail',
    code: 'dns_not_found',
    exitCode: 1,
    message: /NXDOMAIN/,
  },
  {
    fault: 'DNS silent (nft drops port 53)',
    host: 'quiet.push.test',
    port: 7001,
    dns: 'silent',
    status: 'fail',
    code: 'dns_timeout',
    exitCode: 1,
    timesOut: true,
  },
  {
    fault: 'address outside the rule CIDR',
    host: 'outside.push.test',
    port: 7001,
    dns: 'dnsmasq',
    cidr: '17.0.0.0/8',
    status: 'warn',
    code: 'dns_outside_cidr',
    exitCode: 0,
    message: /10\.213\.0\.2 outside 17\.0\.0\.0\/8/,
  },
];

beforeAll(async () => {
  if (unavailable) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-matrix-'));
  const ca = await createCertificateAuthority('pushcheck fault-matrix CA');
  const interceptor = await createCertificateAuthority('Corporate Inspection CA');
  caFile = path.join(dir, 'ca.pem');
  writeFileSync(caFile, ca.cert);
  const names = ['*.push.test'];
  const good = await ca.issue({ names });
  const day = 86_400_000;
  const expired = await ca.issue({ names, notBefore: new Date(Date.now() - 60 * day), notAfter: new Date(Date.now() - 30 * day) });

  net = await createFaultNetwork();
  await net.firewall([
    'tcp dport 7003 drop',
    'tcp dport 7004 reject with icmp type admin-prohibited',
    'tcp dport 7011 reject with icmp type host-unreachable',
    'tcp dport 5223 drop',
    'udp dport 53 drop',
    'tcp dport 53 drop',
  ]);
  // Healthy servers stand behind the firewall rules too: it is the firewall, not an empty port, that answers.
  await net.startServer('tls', '7001,7003,7004,7011,443,5223', good);
  await net.startServer('reset-after-clienthello', '7005');
  await net.startServer('silent', '7006');
  await net.startServer('plain-text', '7007');
  await net.startServer('tls', '7008', await interceptor.issue({ names }));
  await net.startServer('tls', '7009', expired);
  await net.startServer('tls', '7010', await ca.issue({ names: ['other.example'] }));
  if (!noDnsmasq) {
    dnsmasq = await net.startDnsmasq([`--local=/push.test/`, `--address=/outside.push.test/${SERVER_ADDRESS}`]);
  }
});

afterAll(async () => {
  try {
    await net?.close();
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
});

describe.skipIf(unavailable !== undefined)('fault matrix (network namespaces)', () => {
  for (const row of ROWS) {
    it.skipIf(row.dns !== undefined && noDnsmasq !== undefined)(`${row.fault} → ${row.code ?? row.status}`, async () => {
      const severity = row.status === 'warn' && row.code === 'tcp_refused' ? 'warning' : 'critical';
      const rule: RuleSpec = { id: '1', host: row.host, ports: [row.port], check: row.check ?? 'tls', severity, ...(row.cidr && { cidr: row.cidr }) };
      const dnsArgs =
        row.dns === 'dnsmasq' ? ['--dns-server', dnsmasq] : row.dns === 'silent' ? ['--dns-server', `${SERVER_ADDRESS}:53`] : PIN;
      const { report } = await check([rule], dnsArgs);

      const result = resultFor(report, row.port);
      expect(result.status).toBe(row.status);
      expect(report.exitCode).toBe(row.exitCode);
      expect(report.verdict).toBe(row.exitCode === 0 ? 'pass' : 'fail');
      if (row.code) {
        expect(result.error?.code).toBe(row.code);
        if (row.message) expect(result.error?.message).toMatch(row.message);
      } else {
        expect(result.error).toBeUndefined();
      }
      if (row.timesOut) {
        // It waited for the timeout (so the code is not a fast failure misnamed), and not longer.
        expect(result.timings.totalMs).toBeGreaterThanOrEqual(TIMEOUT_MS * 0.9);
        expect(result.timings.totalMs).toBeLessThanOrEqual(TIMEOUT_MS + TIMER_SLACK_MS);
      }
      if (row.status === 'pass' && rule.check === 'tls') expect(result.tls?.trusted).toBe(true);
      if (row.cidr) {
        const summary = report.rules.find((r) => r.rule === '1');
        expect(summary?.cidr?.verdict).toBe('outside');
        expect(summary?.cidr?.outside).toEqual([SERVER_ADDRESS]);
        // The connection itself works: what is wrong is where DNS sent it.
        expect(result.tls?.trusted).toBe(true);
      }
    });
  }

  it.skipIf(noDnsmasq !== undefined)('address outside the rule CIDR fails the run under --strict', async () => {
    const rule: RuleSpec = { id: '1', host: 'outside.push.test', ports: [7001], check: 'tls', cidr: '17.0.0.0/8' };
    const { report } = await check([rule], ['--dns-server', dnsmasq, '--strict']);
    expect(report.results[0]?.error?.code).toBe('dns_outside_cidr');
    expect(report.exitCode).toBe(1);
  });

  it('5223 blocked, 443 open → warning with the fallback explanation', async () => {
    const note = 'Apple devices fall back to TCP 443 on Wi-Fi when they cannot reach APNs on 5223.';
    const rules: RuleSpec[] = [
      { id: 'courier', host: 'courier.push.test', ports: [5223], check: 'tls', fallback: { rule: 'courier-443', ports: [443], for: [5223], note } },
      { id: 'courier-443', host: 'courier.push.test', ports: [443], check: 'tls', severity: 'warning' },
    ];
    const { report } = await check(rules, PIN);
    const blocked = resultFor(report, 5223);
    const open = resultFor(report, 443);
    expect(open.status).toBe('pass');
    expect(blocked.status).toBe('warn');
    expect(blocked.error?.code).toBe('tcp_timeout');
    expect(blocked.timings.totalMs).toBeLessThanOrEqual(TIMEOUT_MS + TIMER_SLACK_MS);
    expect(blocked.fallback).toEqual({ rule: 'courier-443', host: 'courier.push.test', port: 443, note });
    expect(blocked.note).toContain(note);
    expect(report.exitCode).toBe(0);
    expect(report.verdict).toBe('pass');
  });

  it('5223 blocked and the fallback blocked too → the critical failure stands', async () => {
    const rules: RuleSpec[] = [
      { id: 'courier', host: 'courier.push.test', ports: [5223], check: 'tls', fallback: { rule: 'courier-443', ports: [7002], for: [5223], note: 'n' } },
      { id: 'courier-443', host: 'courier.push.test', ports: [7002], check: 'tls', severity: 'warning' },
    ];
    const { report } = await check(rules, PIN);
    expect(resultFor(report, 5223).status).toBe('fail');
    expect(resultFor(report, 5223).fallback).toBeUndefined();
    expect(report.exitCode).toBe(1);
  });

  it('close() kills what ran in the namespaces and deletes them (and so the veth pair)', async () => {
    const own = await createFaultNetwork();
    let pids: number[] = [];
    try {
      await own.startServer('silent', '7006');
      await own.firewall(['tcp dport 7003 drop']);
      pids = namespacePids(own.server);
      expect(pids.length).toBe(1);
      expect(namespaceExists(own.client) && namespaceExists(own.server)).toBe(true);
    } finally {
      await own.close();
    }
    expect(namespaceExists(own.client)).toBe(false);
    expect(namespaceExists(own.server)).toBe(false);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });
});
