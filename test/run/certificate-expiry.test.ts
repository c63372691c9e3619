/**
 * --warn-days on the certificates servers present: a real TLS server on loopback whose certificate expires in ten
 * days warns on a rule file of the user's own, and only adds a note on a built-in rule set.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { runChecks, type CheckSettings } from '../../src/run/run.js';
import type { Report } from '../../src/types.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { startTlsServer, type TestServer } from '../helpers/servers.js';
import { schemaErrors } from '../report/consumers.js';

const DAY_MS = 86_400_000;
let soon: TestServer;
let later: TestServer;
let settings: CheckSettings;

beforeAll(async () => {
  const authority = await createCertificateAuthority('Expiry Test CA', 400);
  soon = await startTlsServer({ ...(await authority.issue({ names: ['127.0.0.1'], notAfter: new Date(Date.now() + 10 * DAY_MS + 3_600_000) })), host: '127.0.0.1' });
  later = await startTlsServer({ ...(await authority.issue({ names: ['127.0.0.1'], notAfter: new Date(Date.now() + 200 * DAY_MS) })), host: '127.0.0.1' });
  settings = {
    timeoutMs: 3000,
    concurrency: 4,
    retries: 0,
    strict: false,
    insecure: false,
    warnDays: 30,
    pins: [],
    caPems: [authority.cert],
    vars: {},
    recorded: { timeoutMs: 3000, concurrency: 4, retries: 0, resolve: [], caFiles: [], vars: [], strict: false, insecure: false, warnDays: 30 },
  };
});
afterAll(async () => {
  await Promise.all([soon.close(), later.close()]);
});

const rules = () => [
  rule({ id: 'soon', host: '127.0.0.1', ports: [soon.port], check: 'tls' }),
  rule({ id: 'later', host: '127.0.0.1', ports: [later.port], check: 'tls' }),
];

describe('server certificates expiring within --warn-days', () => {
  it('warn on the user’s own rules, naming the date and the days left; a later one passes', async () => {
    const report: Report = await runChecks([ruleSet(rules(), { builtin: false })], settings);
    const [near, far] = report.results;
    expect(near!.status).toBe('warn');
    expect(near!.error?.code).toBe('tls_expiring');
    expect(near!.error?.message).toMatch(/expires \d{4}-\d\d-\d\d, in 10 days; warning at 30 days \(--warn-days\)/);
    expect(far!.status).toBe('pass');
    expect(report.exitCode).toBe(0);
    expect(schemaErrors(report)).toBeUndefined();
    const strict = await runChecks([ruleSet(rules(), { builtin: false })], { ...settings, strict: true });
    expect(strict.exitCode).toBe(1);
  });

  it('are a note on built-in vendor rules (the vendor rotates them), and nothing below the threshold', async () => {
    const report = await runChecks([ruleSet(rules(), { builtin: true })], settings);
    expect(report.results[0]!.status).toBe('pass');
    expect(report.results[0]!.note).toMatch(/the server certificate expires \d{4}-\d\d-\d\d, in 10 days; the vendor rotates it/);
    expect(report.results[1]!.note).toBeUndefined();
    const quiet = await runChecks([ruleSet(rules(), { builtin: false })], { ...settings, warnDays: 7 });
    expect(quiet.results.map((r) => r.status)).toEqual(['pass', 'pass']);
  });
});
