/**
 * A dual-stack name probed through a proxy: the proxy (microsocks, a real SOCKS5 proxy) resolves the name and picks
 * the family, so the report holds one result, marked resolvedByProxy, with no family and no IPv4/IPv6 judgement,
 * where the same name probed directly gives one result per family. pushcheck's own DNS (a real DNS server of the
 * test) answers A and AAAA for the name, so a direct run would split it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { startDnsServer, type LoopbackDnsServer } from '../../src/demo/dns-server.js';
import { formats } from '../helpers/formats.js';
import { runChecks, type CheckSettings } from '../../src/run/run.js';
import type { Report, Rule } from '../../src/types.js';
import { checkSettings, rule, ruleSet } from '../helpers/literals.js';
import { proxyToolsMissing, startMicrosocks, type TestProxy } from '../helpers/proxies.js';
import { besideClosedPort, ipv6Available, onBothLoopbacks, startTlsServer, type ClosedPort, type TestServer } from '../helpers/servers.js';
import { schemaErrors } from '../report/consumers.js';

// The proxy resolves with the system's resolver, which knows `localhost`; pushcheck asks the test's DNS server,
// which answers both families for it.
const HOST = 'localhost';
const missing = proxyToolsMissing() ?? ((await ipv6Available()) ? undefined : 'this machine cannot listen on ::1');
if (missing) {
  if (process.env.CI) throw new Error(`CI must run the proxied dual-stack tests: ${missing}`);
  console.log(`proxied dual-stack tests skipped: ${missing}`);
}

let dns: LoopbackDnsServer;
let socks: TestProxy;
let both: TestServer[] = [];
/** On 127.0.0.1 only; its port is held closed on ::1, so that no other process takes it there. */
let v4only: TestServer;
let v4onlyClosed6: ClosedPort;
let settings: CheckSettings;

beforeAll(async () => {
  if (missing) return;
  const authority = await createCertificateAuthority('Family Proxy Test CA');
  const leaf = await authority.issue({ names: [HOST] });
  both = await onBothLoopbacks((host, port) => startTlsServer({ ...leaf, host, port }));
  ({ server: v4only, closed: v4onlyClosed6 } = await besideClosedPort('127.0.0.1', (host, port) => startTlsServer({ ...leaf, host, port })));
  dns = await startDnsServer({ records: { [HOST]: { A: ['127.0.0.1'], AAAA: ['::1'] } } });
  socks = await startMicrosocks();
  settings = checkSettings({ dnsServer: { host: dns.host, port: dns.port }, caPems: [authority.cert] });
});

afterAll(async () => {
  if (missing) return;
  await Promise.all([...both.map((s) => s.close()), v4only.close(), v4onlyClosed6.close(), dns.close(), socks.stop()]);
});

const proxied = (extra: Partial<CheckSettings> = {}): Partial<CheckSettings> => ({
  proxy: { protocol: 'socks5', host: '127.0.0.1', port: socks.port },
  recorded: { ...settings.recorded, proxy: socks.url },
  ...extra,
});

const run = (rules: Rule[], extra: Partial<CheckSettings> = {}): Promise<Report> => runChecks([ruleSet(rules)], { ...settings, ...extra });

describe.skipIf(missing !== undefined)('a dual-stack name through a proxy', () => {
  it('is one result, resolved by the proxy, with no family; probed directly it is one per family', async () => {
    const target = rule({ id: 'dual', host: HOST, ports: [both[0]!.port], check: 'tls' });
    const direct = await run([target]);
    expect(direct.results.map((r) => r.family)).toEqual(['ipv4', 'ipv6']);
    expect(direct.results.every((r) => r.resolvedByProxy === undefined)).toBe(true);

    const report = await run([target], proxied());
    expect(report.results).toHaveLength(1);
    const [result] = report.results;
    expect(result).toMatchObject({ status: 'pass', resolvedByProxy: true, via: socks.url, addresses: [] });
    expect(result!.family).toBeUndefined();
    expect(result!.address).toBeUndefined();
    expect(schemaErrors(JSON.parse(JSON.stringify(report)))).toBeUndefined();
    // Said where people read it: the table's IP column and the Markdown report's target.
    const table = formats.get('table')!.render(report, { color: false, columns: 160 });
    expect(table).toMatch(new RegExp(`│ dual +│ ${HOST} +│ proxy +│`));
    expect(formats.get('markdown')!.render(report, { color: false })).not.toMatch(/IPv[46]/);
  });

  it('makes no IPv6 judgement: a server on IPv4 only is an IPv6 warning directly, a plain pass through the proxy', async () => {
    const target = rule({ id: 'v4', host: HOST, ports: [v4only.port], check: 'tls' });
    const direct = await run([target]);
    expect(direct.results.map((r) => [r.family, r.status])).toEqual([
      ['ipv4', 'pass'],
      ['ipv6', 'warn'],
    ]);
    expect(direct.findings?.map((f) => f.cause)).toContain('ipv6_broken');

    const report = await run([target], proxied());
    expect(report.results.map((r) => [r.family, r.status, r.resolvedByProxy, r.familyFallback])).toEqual([[undefined, 'pass', true, undefined]]);
    expect(report.findings?.map((f) => f.cause) ?? []).not.toContain('ipv6_broken');
  });

  it('says that --family 6 could not be honoured, rather than pretending the result is IPv6', async () => {
    const target = rule({ id: 'dual', host: HOST, ports: [both[0]!.port], check: 'tls' });
    const report = await run([target], proxied({ family: '6' }));
    expect(report.results).toHaveLength(1);
    expect(report.results[0]!.family).toBeUndefined();
    expect(report.results[0]!.note).toBe('--family 6 does not apply here: the proxy resolved the name and chose the family itself');
  });

  it('knows the family when the proxy is sent an address rather than a name', async () => {
    const target = rule({ id: 'literal', host: '::1', ports: [both[0]!.port], check: 'tcp' });
    const report = await run([target], proxied());
    expect(report.results.map((r) => [r.family, r.address, r.resolvedByProxy, r.status])).toEqual([['ipv6', '::1', undefined, 'pass']]);
  });
});
