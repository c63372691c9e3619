/**
 * Dual stack: names from a real DNS server answering A (127.0.0.1) and AAAA (::1), TLS servers on both loopbacks.
 * One result per family, CIDR judged per family, narrow ranges, --family, and IPv6 broken while IPv4 works.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { runChecks, type CheckSettings } from '../../src/run/run.js';
import type { Report, Result, Rule } from '../../src/types.js';
import { startDnsServer, type LoopbackDnsServer } from '../../src/demo/dns-server.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { besideClosedPort, ipv6Available, onBothLoopbacks, startTlsServer, type ClosedPort, type TestServer } from '../helpers/servers.js';
import { busyFor, networkVerdict, watchLoop } from '../helpers/starved.js';
import { schemaErrors } from '../report/consumers.js';

const haveIpv6 = await ipv6Available();
if (!haveIpv6) {
  if (process.env.CI) throw new Error('CI needs ::1 for the dual-stack tests');
  console.warn('skipping dual-stack tests: this machine cannot listen on ::1');
}

let dns: LoopbackDnsServer;
let ca: string;
/** Listens on 127.0.0.1 and ::1 at one port. */
let both: TestServer[];
/** Listens on 127.0.0.1 only: IPv6 to its port is refused (held closed on ::1, so no other process takes it there). */
let v4only: TestServer;
let v4onlyClosed6: ClosedPort;
let settings: CheckSettings;

beforeAll(async () => {
  if (!haveIpv6) return;
  const authority = await createCertificateAuthority('Family Test CA');
  ca = authority.cert;
  const leaf = await authority.issue({ names: ['dual.family.test', 'broken6.family.test', 'v4.family.test'] });
  both = await onBothLoopbacks((host, port) => startTlsServer({ ...leaf, host, port }));
  ({ server: v4only, closed: v4onlyClosed6 } = await besideClosedPort('127.0.0.1', (host, port) => startTlsServer({ ...leaf, host, port })));
  dns = await startDnsServer({
    records: {
      'dual.family.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
      'broken6.family.test': { A: ['127.0.0.1'], AAAA: ['::1'] },
      'v4.family.test': { A: ['127.0.0.1'] },
      'v6.family.test': { AAAA: ['::1'] },
    },
  });
  settings = {
    timeoutMs: 3000,
    concurrency: 8,
    retries: 0,
    strict: false,
    insecure: false,
    dnsServer: { host: dns.host, port: dns.port },
    pins: [],
    caPems: [ca],
    vars: {},
    recorded: { timeoutMs: 3000, concurrency: 8, retries: 0, resolve: [], caFiles: [], vars: [], strict: false, insecure: false },
  };
});

afterAll(async () => {
  if (!haveIpv6) return;
  await Promise.all([...both.map((s) => s.close()), v4only.close(), v4onlyClosed6.close(), dns.close()]);
});

function dual(overrides: Partial<Rule> = {}): Rule {
  return rule({ id: 'dual', host: 'dual.family.test', ports: [both[0]!.port], check: 'tls', ...overrides });
}

const run = (rules: Rule[], extra: Partial<CheckSettings> = {}): Promise<Report> =>
  runChecks([ruleSet(rules)], { ...settings, ...extra });

describe.skipIf(!haveIpv6)('dual stack', () => {
  it('probes a name with A and AAAA once per family, each result with its family and address', async () => {
    const report = await run([dual()]);
    expect(report.results.map((r) => [r.family, r.address, r.addresses, r.status])).toEqual([
      ['ipv4', '127.0.0.1', ['127.0.0.1'], 'pass'],
      ['ipv6', '::1', ['::1'], 'pass'],
    ]);
    expect(report.verdict).toBe('pass');
    expect(report.rules[0]!.addresses).toEqual(['127.0.0.1', '::1']);
    expect(schemaErrors(JSON.parse(JSON.stringify(report)))).toBeUndefined();
  });

  it("gives every target of a name each family's own addresses, the split made once per lookup and family", async () => {
    const report = await run([dual({ id: 'one' }), dual({ id: 'two' }), dual({ id: 'three' })]);
    expect(report.results.map((r) => [r.rule, r.family, r.address, r.addresses, r.status])).toEqual(
      ['one', 'two', 'three'].flatMap((id) => [
        [id, 'ipv4', '127.0.0.1', ['127.0.0.1'], 'pass'],
        [id, 'ipv6', '::1', ['::1'], 'pass'],
      ]),
    );
  });

  it('--family 4 or 6 probes only that family; a name without it says so', async () => {
    const four = await run([dual()], { family: '4' });
    expect(four.results.map((r) => [r.family, r.address])).toEqual([['ipv4', '127.0.0.1']]);
    const six = await run([dual()], { family: '6' });
    expect(six.results.map((r) => [r.family, r.address])).toEqual([['ipv6', '::1']]);
    const none = await run([rule({ id: 'v4', host: 'v4.family.test', ports: [v4only.port] })], { family: '6' });
    expect(none.results).toHaveLength(1);
    expect(none.results[0]).toMatchObject({ family: 'ipv6', status: 'fail', error: { code: 'dns_no_address' } });
    expect(none.results[0]!.error!.message).toContain('no IPv6 address (--family 6), only IPv4: 127.0.0.1');
  });

  it('a name with one family gives one result, as before', async () => {
    const report = await run([rule({ id: 'v4', host: 'v4.family.test', ports: [v4only.port] })]);
    expect(report.results.map((r) => [r.family, r.status])).toEqual([['ipv4', 'pass']]);
    // The scheduler's path for a name of one family that the run probes (probeFamilies), for each family and choice:
    // tcp and tls (its certificate names v4.family.test), passed and refused (v4only's port on ::1).
    const v6 = (check: 'tcp', port: number): Rule => rule({ id: `v6 ${check} ${port}`, host: 'v6.family.test', ports: [port], check });
    const v4 = (check: 'tcp' | 'tls'): Rule => rule({ id: `v4 ${check}`, host: 'v4.family.test', ports: [v4only.port], check });
    const one = [v4('tcp'), v4('tls'), v6('tcp', both[1]!.port), v6('tcp', v4only.port)];
    const read = (report: Report) => report.results.map((r) => [r.rule, r.family, r.address, r.status, r.error?.code, r.attempts]);
    const passed4 = [['v4 tcp', 'ipv4', '127.0.0.1', 'pass', undefined, 1], ['v4 tls', 'ipv4', '127.0.0.1', 'pass', undefined, 1]];
    const passed6 = [['v6 tcp ' + both[1]!.port, 'ipv6', '::1', 'pass', undefined, 1]];
    const refused6 = [['v6 tcp ' + v4only.port, 'ipv6', '::1', 'fail', 'tcp_refused', 1]];
    expect(read(await run(one))).toEqual([...passed4, ...passed6, ...refused6]);
    expect(read(await run(one, { family: '4' })).slice(0, 2)).toEqual(passed4);
    expect(read(await run(one, { family: '6' })).slice(2)).toEqual([...passed6, ...refused6]);
  });

  it('judges each address against the ranges of its own family only: IPv4 ranges say nothing about ::1', async () => {
    const report = await run([dual({ cidr: ['127.0.0.0/8'] })]);
    expect(report.results.map((r) => r.status)).toEqual(['pass', 'pass']);
    const cidr = report.rules[0]!.cidr!;
    expect(cidr.verdict).toBe('inside');
    expect(cidr.outside).toEqual([]);
    expect(cidr.message).toContain('IPv6 address not judged (the rule lists no range of its family): ::1');
  });

  it('an IPv6 address outside the IPv6 ranges is flagged on the IPv6 result only', async () => {
    const report = await run([dual({ cidr: ['127.0.0.0/8', '2001:db8::/32'] })]);
    expect(report.results.map((r) => [r.family, r.status, r.error?.code])).toEqual([
      ['ipv4', 'pass', undefined],
      ['ipv6', 'warn', 'dns_outside_cidr'],
    ]);
    expect(report.results[1]!.error!.message).toContain('::1 outside 2001:db8::/32');
    expect(report.rules[0]!.cidr).toMatchObject({ verdict: 'outside', outside: ['::1'] });
  });

  it('inside the broad ranges, says whether the addresses lie inside the narrow ranges too', async () => {
    const inside = await run([dual({ cidr: ['127.0.0.0/8', '::/0'], narrowCidr: ['127.0.0.0/24', '::1/128'] })]);
    expect(inside.rules[0]!.cidr).toMatchObject({ verdict: 'inside', narrow: { verdict: 'inside', outside: [] } });
    expect(inside.rules[0]!.cidr!.message).toContain('they also lie inside the narrow ranges');
    const outside = await run([dual({ cidr: ['127.0.0.0/8', '::/0'], narrowCidr: ['127.0.1.0/24', '::1/128'] })]);
    expect(outside.rules[0]!.cidr).toMatchObject({ verdict: 'inside', narrow: { verdict: 'outside', outside: ['127.0.0.1'] } });
    expect(outside.rules[0]!.cidr!.message).toContain('127.0.0.1 lies outside the narrow ranges');
  });

  it('IPv6 broken while IPv4 works is a warning saying devices fall back to IPv4; --strict fails it', async () => {
    const broken = rule({ id: 'broken', host: 'broken6.family.test', ports: [v4only.port], check: 'tls' });
    const report = await run([broken]);
    expect(report.results.map((r) => [r.family, r.status, r.error?.code])).toEqual([
      ['ipv4', 'pass', undefined],
      ['ipv6', 'warn', 'tcp_refused'],
    ]);
    const six = report.results[1]!;
    expect(six.address).toBe('::1');
    expect(six.familyFallback).toMatchObject({ family: 'ipv4', address: '127.0.0.1' });
    expect(six.note).toContain('devices fall back to IPv4 after a delay');
    expect([report.verdict, report.exitCode]).toEqual(['pass', 0]);
    const strict = await run([broken], { strict: true });
    expect([strict.verdict, strict.exitCode]).toEqual(['fail', 1]);
  });

  it('a retry after a failed lookup probes each family the name then has, as a first answer would have', async () => {
    // SERVFAIL for the first lookup (its A and AAAA queries), answers from then on: --retries 1 looks the name up again.
    const queries = dns.queries;
    const before = queries.length;
    dns.mode = 'servfail';
    queries.push = (...asked) => {
      if (queries.length - before >= 2) dns.mode = 'answer';
      return Array.prototype.push.apply(queries, asked);
    };
    try {
      const broken = rule({ id: 'broken', host: 'broken6.family.test', ports: [v4only.port], check: 'tls' });
      const report = await run([broken], { retries: 1 });
      // Not one result of whichever address connected first (IPv4), its IPv6 refusal unseen.
      expect(report.results.map((r) => [r.family, r.address, r.status, r.error?.code, r.attempts])).toEqual([
        ['ipv4', '127.0.0.1', 'pass', undefined, 2],
        ['ipv6', '::1', 'warn', 'tcp_refused', 2],
      ]);
      expect(queries.length - before).toBe(4);
    } finally {
      Reflect.deleteProperty(queries, 'push'); // Array.prototype.push again
      dns.mode = 'answer';
    }
  });

  it("a starved lookup's overload retry probes each family too", async () => {
    // The first lookup's answers come after its 600 ms timeout, and the loop stands still across that timeout: the
    // attempt is starved and tried again (docs/timeouts.md), and that try's lookup is answered at once.
    const queries = dns.queries;
    const before = queries.length;
    let asked!: () => void;
    const lookingUp = new Promise<void>((resolve) => (asked = resolve));
    dns.delayMs = 2000;
    queries.push = (...received) => {
      if (queries.length - before >= 2) dns.delayMs = 0;
      const count = Array.prototype.push.apply(queries, received);
      if (queries.length - before === 2) asked();
      return count;
    };
    try {
      const broken = rule({ id: 'broken', host: 'broken6.family.test', ports: [v4only.port], check: 'tls' });
      const loop = watchLoop();
      const running = run([broken], { timeoutMs: 600 });
      await lookingUp;
      busyFor(700);
      const report = await running;
      loop.stop();
      const read = (r: Result) => {
        const verdict = networkVerdict(r, { timeoutMs: 600, stalledMs: loop.stalledMs() });
        return [r.family, r.address, verdict.code, r.attempts];
      };
      if (report.results.length === 1) {
        // On a machine so busy that the retry could not start within 300 ms, the starved lookup is all there is.
        expect(networkVerdict(report.results[0]!, { timeoutMs: 600, stalledMs: loop.stalledMs() })).toMatchObject({ overloaded: true, code: 'dns_timeout' });
      } else {
        expect(report.results.map(read)).toEqual([
          ['ipv4', '127.0.0.1', undefined, 2],
          ['ipv6', '::1', 'tcp_refused', 2],
        ]);
      }
    } finally {
      Reflect.deleteProperty(queries, 'push'); // Array.prototype.push again
      dns.delayMs = 0;
    }
  });

  it('IPv4 broken while IPv6 works stays a failure: IPv4-only devices have no way round it', async () => {
    const leaf = await (await createCertificateAuthority('Other CA')).issue({ names: ['dual.family.test'] });
    // Refused on 127.0.0.1 for certain: a port merely free there might be another process's by the time it is probed.
    const { server: v6only, closed } = await besideClosedPort('::1', (host, port) => startTlsServer({ ...leaf, host, port }));
    try {
      const report = await run([dual({ ports: [v6only.port] })], { insecure: true });
      expect(report.results.map((r) => [r.family, r.status, r.error?.code])).toEqual([
        ['ipv4', 'fail', 'tcp_refused'],
        ['ipv6', 'pass', undefined],
      ]);
      expect(report.verdict).toBe('fail');
    } finally {
      await Promise.all([v6only.close(), closed.close()]);
    }
  });
});
