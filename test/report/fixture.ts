/**
 * Report literals for the format tests: one of every status and every optional part (TLS, HTTP, legacy,
 * fallback, CIDR facts), and texts from outside that try to break each format.
 */
import type { Finding, Report, Result } from '../../src/types.js';

/** What rule files, servers and error messages may hold: markup, quotes, control characters, non-ASCII. */
export const NASTY = 'a <b>&amp; "q" \'s\' | `x` *y* ]]> \u0000\u0007\u001b[31m\ud800 tab\there\nline2 Can’t 🚀 ü';

export function result(overrides: Partial<Result> = {}): Result {
  return {
    ruleset: 'moki-ios',
    rule: '5',
    documentedHost: 'push.apple.com',
    host: 'courier.sandbox.push.apple.com',
    port: 443,
    address: '17.57.146.20',
    addresses: ['17.57.146.20'],
    check: 'tls',
    status: 'pass',
    severity: 'critical',
    origin: 'documented',
    purpose: 'Push Notifications, updates to the app',
    impact: 'Can’t send device information to MokiManage or receive updates or actions',
    timings: { dnsMs: 12.5, connectMs: 20.1, tlsMs: 30.2, totalMs: 62.8 },
    attempts: 1,
    ...overrides,
  };
}

const tcpTimeout = {
  code: 'tcp_timeout',
  phase: 'connect',
  message: 'no answer to the connection attempt: a firewall is probably dropping the packets (after 5000 ms)',
  hint: 'allow outbound TCP to this host and port',
} as const;

/** Counts, verdict and exit code as the run would compute them (strict: warnings other than retired ports fail). */
export function report(results: Result[], overrides: Partial<Report> = {}): Report {
  const count = (s: string) => results.filter((r) => r.status === s).length;
  const strict = overrides.options?.strict ?? false;
  const failing = results.some((r) => r.status === 'fail' || (strict && r.status === 'warn' && !r.legacy));
  const interrupted = overrides.interrupted ?? false;
  const rulesetIds = [...new Set(results.map((r) => r.ruleset))];
  return {
    schemaVersion: 1,
    tool: { name: 'pushcheck', version: '0.1.0' },
    environment: { node: 'v20.18.0', platform: 'linux', release: '6.1.0', arch: 'x64' },
    startedAt: '2026-11-23T10:00:00.000Z',
    durationMs: 5100,
    options: {
      timeoutMs: 5000,
      concurrency: 64,
      retries: 0,
      resolve: ['*.push.apple.com=17.57.146.20'],
      caFiles: ['corp-ca.pem'],
      vars: [],
      strict: false,
      insecure: false,
    },
    rulesets: rulesetIds.map((id) => ({ id, title: `${id} title`, notes: [], file: `builtin:${id}` })),
    summary: {
      total: results.length,
      passed: count('pass'),
      failed: count('fail'),
      warned: count('warn'),
      skipped: count('skip'),
    },
    verdict: failing ? 'fail' : 'pass',
    exitCode: interrupted ? 130 : failing ? 1 : 0,
    interrupted,
    findings: [],
    results,
    rules: [],
    ...overrides,
  };
}

/** Every status and optional part, over two rule sets. */
export function richResults(): Result[] {
  return [
    result({
      tls: {
        protocol: 'TLSv1.3',
        cipher: 'TLS_AES_256_GCM_SHA384',
        alpn: 'h2',
        subject: 'CN=courier.sandbox.push.apple.com',
        issuer: 'CN=Apple Public Server RSA CA 12 - G1',
        validTo: '2027-03-01T12:00:00.000Z',
        daysLeft: 98,
        altNames: ['courier.sandbox.push.apple.com'],
        trusted: true,
      },
    }),
    result({ port: 5223, status: 'fail', timings: { dnsMs: 12.5, connectMs: 5000, totalMs: 5012.5 }, error: tcpTimeout }),
    result({
      port: 2195,
      status: 'warn',
      timings: { totalMs: 5000 },
      error: tcpTimeout,
      note: 'retired port (since 2021-03-31): binary provider API',
      legacy: { retired: '2021-03-31', note: 'binary provider API' },
    }),
    result({
      rule: '1',
      host: 'mokimanage.com',
      documentedHost: 'MokiManage.com',
      severity: 'warning',
      status: 'warn',
      error: {
        code: 'tls_untrusted',
        phase: 'tls',
        message: 'the certificate is not from a trusted CA (issued by Corporate Inspection CA)',
        hint: 'exempt this host from TLS inspection',
      },
    }),
    result({
      ruleset: 'ibi-aws',
      rule: 'message-get',
      host: 'intranet.example',
      documentedHost: 'messages',
      check: 'https',
      status: 'pass',
      http: { status: 200, contentType: 'text/xml', bytes: 2048 },
      timings: { dnsMs: 1, connectMs: 2, tlsMs: 3, httpMs: 4, totalMs: 10 },
    }),
    unprobed({
      ruleset: 'ibi-aws',
      rule: 'message-head',
      host: 'messages',
      documentedHost: 'messages',
      check: 'https',
      note: 'no --var messageUrl=https://… given',
    }),
  ];
}

/** A skipped target as the run records it: no address, no time, no attempt. */
export function unprobed(overrides: Partial<Result> = {}): Result {
  const { address: _none, ...rest } = result({ status: 'skip', addresses: [], timings: { totalMs: 0 }, attempts: 0, ...overrides });
  return rest;
}

/** Findings as the rich results would give them: one critical, one info. */
export function richFindings(): Finding[] {
  return [
    {
      cause: 'ports_blocked',
      severity: 'critical',
      summary: 'The firewall lets TCP 443 through but blocks TCP 5223 to the same vendors’ hosts: it allows only web ports.',
      action: 'Allow outbound TCP 5223 to courier.sandbox.push.apple.com.',
      detail: 'Nothing falls back for 5223 (moki-ios/5).',
      targets: 1,
      examples: ['moki-ios/5 courier.sandbox.push.apple.com:5223'],
      rulesets: ['moki-ios'],
    },
    {
      cause: 'legacy_only',
      severity: 'info',
      summary: 'Retired ports fail too (TCP 2195, retired since 2021-03-31); the vendor no longer uses them.',
      action: 'Nothing to ask for: TCP 2195 need not be opened (leave them out of the change request).',
      targets: 1,
      examples: ['moki-ios/5 courier.sandbox.push.apple.com:2195'],
      rulesets: ['moki-ios'],
    },
  ];
}

export function richReport(overrides: Partial<Report> = {}): Report {
  const results = richResults();
  return report(results, {
    findings: richFindings(),
    rules: [
      {
        ruleset: 'moki-ios',
        rule: '5',
        documentedHost: 'push.apple.com',
        hosts: ['courier.sandbox.push.apple.com'],
        addresses: ['17.57.146.20'],
        cidr: { ranges: ['17.0.0.0/8'], outside: [], pinned: [], verdict: 'inside', message: 'all inside' },
      },
    ],
    ...overrides,
  });
}

/** Outside text in every field a format prints. */
export function nastyReport(): Report {
  return report([
    result({
      ruleset: `set ${NASTY}`,
      rule: `r ${NASTY}`,
      host: `h${NASTY}`,
      status: 'fail',
      purpose: NASTY,
      impact: NASTY,
      note: NASTY,
      error: { code: 'tls_handshake_failed', phase: 'tls', message: NASTY, hint: NASTY },
    }),
    result({ rule: NASTY, status: 'warn', impact: NASTY, error: { ...tcpTimeout, message: NASTY } }),
    unprobed({ rule: 'skip', note: NASTY }),
    result({ rule: 'pass', status: 'pass', note: NASTY }),
  ], {
    findings: [
      {
        cause: 'tls_interception',
        severity: 'critical',
        summary: NASTY,
        action: NASTY,
        detail: NASTY,
        subject: NASTY,
        targets: 1,
        examples: [NASTY],
        rulesets: [`set ${NASTY}`],
      },
    ],
  });
}
