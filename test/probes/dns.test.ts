import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { createResolver, fitSystemResolver, parseDnsServer, parsePin, pinnedAddresses } from '../../src/probes/dns.js';
import { resolverSlots } from '../../src/probes/system-lookup.js';
import { startDnsServer, type LoopbackDnsServer } from '../../src/demo/dns-server.js';
import { tcpProbe } from '../../src/probes/tcp.js';
import { expectTimings } from '../helpers/outcome.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import { closedPort, ipv6Available, startTcpServer } from '../helpers/servers.js';

const never = new AbortController().signal;

describe('parsePin', () => {
  it('parses HOST=IP, lower-casing the host and accepting bracketed IPv6', () => {
    expect(parsePin('API.Push.Apple.com=17.188.143.34')).toEqual({ host: 'api.push.apple.com', address: '17.188.143.34' });
    expect(parsePin('*.push.apple.com=[2620:149::1]')).toEqual({ host: '*.push.apple.com', address: '2620:149::1' });
    expect(parsePin('fcm.googleapis.com.=::1')).toEqual({ host: 'fcm.googleapis.com', address: '::1' });
    expect(parsePin('*.Push.APPLE.com=17.188.143.34')).toEqual({ host: '*.push.apple.com', address: '17.188.143.34' });
    expect(parsePin('H0_x-1.Bench.TEST=127.0.1.1')).toEqual({ host: 'h0_x-1.bench.test', address: '127.0.1.1' });
  });

  it.each([
    ['api.push.apple.com', /expected HOST=IP/],
    ['=1.2.3.4', /expected HOST=IP/],
    ['api.push.apple.com=', /expected HOST=IP/],
    ['api.push.apple.com=17.188.143', /"17.188.143" is not an IP address/],
    ['api.*.apple.com=1.2.3.4', /"\*" may only stand for the leading labels/],
    ['bad host=1.2.3.4', /"bad host" is not a host name/],
    // Checked in lower case: a letter outside ASCII is not one of a host name's, whatever its case.
    ['Bücher.Push.Test=1.2.3.4', /"bücher.push.test" is not a host name/],
    ['*.PUSH.TÉST=1.2.3.4', /"\*" may only stand for the leading labels/],
  ])('rejects %s with one clear line', (text, message) => {
    expect(() => parsePin(text)).toThrow(UsageError);
    expect(() => parsePin(text)).toThrow(message);
    try {
      parsePin(text);
    } catch (err) {
      expect((err as Error).message).not.toContain('\n');
      expect((err as Error).message).toContain(`--resolve "${text}"`);
    }
  });
});

describe('parseDnsServer', () => {
  it.each([
    ['1.1.1.1', { host: '1.1.1.1', port: 53 }],
    ['127.0.0.1:5353', { host: '127.0.0.1', port: 5353 }],
    ['::1', { host: '::1', port: 53 }],
    ['2606:4700:4700::1111', { host: '2606:4700:4700::1111', port: 53 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['[2606:4700:4700::1111]', { host: '2606:4700:4700::1111', port: 53 }],
  ])('parses %s', (text, expected) => {
    expect(parseDnsServer(text)).toEqual(expected);
  });

  it.each([
    ['dns.google', /expected IP or IP:PORT/],
    ['1.1.1.1:', /the port must be a number from 1 to 65535/],
    ['1.1.1.1:0', /the port must be a number from 1 to 65535/],
    ['1.1.1.1:70000', /the port must be a number from 1 to 65535/],
    ['[::1]:x', /the port must be a number/],
    ['[dns.google]:53', /expected IP or IP:PORT/],
  ])('rejects %s', (text, message) => {
    expect(() => parseDnsServer(text)).toThrow(UsageError);
    expect(() => parseDnsServer(text)).toThrow(message);
  });
});

describe('pins', () => {
  const pins = ['api.push.apple.com=10.0.0.1', 'api.push.apple.com=::2', '*.push.apple.com=10.0.0.9', '*.apple.com=10.0.0.8'].map(
    parsePin,
  );

  it('matches exactly and case-insensitively, several pins giving several addresses', () => {
    expect(pinnedAddresses('API.push.apple.com', pins)).toEqual(['10.0.0.1', '::2']);
  });

  it('matches a wildcard on one or more labels, the most specific wildcard winning', () => {
    expect(pinnedAddresses('1-courier.push.apple.com', pins)).toEqual(['10.0.0.9']);
    expect(pinnedAddresses('a.b.push.apple.com', pins)).toEqual(['10.0.0.9']);
    expect(pinnedAddresses('albert.apple.com', pins)).toEqual(['10.0.0.8']);
  });

  it('does not let a wildcard match the bare suffix or another domain', () => {
    expect(pinnedAddresses('push.apple.com', pins)).toEqual(['10.0.0.8']);
    expect(pinnedAddresses('apple.com', pins)).toEqual([]);
    expect(pinnedAddresses('notapple.com', pins)).toEqual([]);
  });

  it('resolves pinned hosts without DNS, IPv4 first, and marks them pinned', async () => {
    const resolve = createResolver({ pins: [parsePin('push.test=::1'), parsePin('push.test=127.0.0.1')], timeoutMs: 100 });
    const resolution = await resolve('Push.Test', never);
    expect(resolution).toEqual({ addresses: ['127.0.0.1', '::1'], pinned: true, durationMs: 0 });
  });

  it('resolves an IP literal to itself, brackets or not', async () => {
    const resolve = createResolver({ pins: [], timeoutMs: 100 });
    expect(await resolve('127.0.0.1', never)).toMatchObject({ addresses: ['127.0.0.1'], pinned: false });
    expect(await resolve('[::1]', never)).toMatchObject({ addresses: ['::1'], pinned: false });
  });
});

describe('system resolver', () => {
  it('resolves localhost through the system (hosts file, no DNS traffic)', async () => {
    const resolution = await createResolver({ pins: [], timeoutMs: 2000 })('localhost', never);
    expect(resolution.failure).toBeUndefined();
    expect(resolution.addresses.length).toBeGreaterThan(0);
    expect(resolution.addresses.every((a) => a === '::1' || a.startsWith('127.'))).toBe(true);
    // IPv4 first
    const firstV6 = resolution.addresses.findIndex((a) => a.includes(':'));
    if (firstV6 >= 0) expect(resolution.addresses.slice(firstV6).every((a) => a.includes(':'))).toBe(true);
  });

  it('returns at once when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const resolution = await createResolver({ pins: [], timeoutMs: 2000 })('localhost', controller.signal);
    expect(resolution.addresses).toEqual([]);
    expect(resolution.failure).toMatchObject({ code: 'dns_error', phase: 'dns' });
    expect(resolution.failure?.message).toContain('interrupted');
  });
});

describe('--dns-server', () => {
  let server: LoopbackDnsServer;
  beforeAll(async () => {
    server = await startDnsServer({
      records: {
        'push.test': { A: ['127.0.0.1', '127.0.0.2'], AAAA: ['::1'] },
        'v6only.test': { AAAA: ['::1'] },
        'empty.test': {},
      },
    });
  });
  afterAll(() => server.close());

  const resolverFor = (timeoutMs = 2000) => createResolver({ pins: [], timeoutMs, dnsServer: parseDnsServer(server.address) });

  it('asks for A and AAAA and gives IPv4 first', async () => {
    server.mode = 'answer';
    const start = performance.now();
    const resolution = await resolverFor()('push.test', never);
    const elapsedMs = performance.now() - start;
    expect(resolution.failure).toBeUndefined();
    expect(resolution.addresses).toEqual(['127.0.0.1', '127.0.0.2', '::1']);
    expect(resolution.pinned).toBe(false);
    expect(Number.isFinite(resolution.durationMs) && resolution.durationMs >= 0).toBe(true);
    expect(resolution.durationMs).toBeLessThanOrEqual(Math.ceil(elapsedMs * 10) / 10);
    const types = server.queries.filter((q) => q.name === 'push.test').map((q) => q.type);
    expect(types).toContain('A');
    expect(types).toContain('AAAA');
  });

  it('returns only AAAA when there is no A', async () => {
    server.mode = 'answer';
    expect((await resolverFor()('v6only.test', never)).addresses).toEqual(['::1']);
  });

  it('reports NXDOMAIN as dns_not_found, naming the server', async () => {
    server.mode = 'answer';
    const resolution = await resolverFor()('missing.test', never);
    expect(resolution.addresses).toEqual([]);
    expect(resolution.failure).toMatchObject({ code: 'dns_not_found', phase: 'dns' });
    expect(resolution.failure?.message).toContain('ENOTFOUND');
    expect(resolution.failure?.message).toContain(`server ${server.address}`);
    expect(resolution.failure?.hint).toBeTruthy();
  });

  it('reports a name without A and AAAA as dns_no_address', async () => {
    server.mode = 'answer';
    const resolution = await resolverFor()('empty.test', never);
    expect(resolution.failure).toMatchObject({ code: 'dns_no_address', phase: 'dns' });
  });

  it('reports a silent server as dns_timeout within the bound', async () => {
    server.mode = 'silent';
    const start = Date.now();
    const resolution = await resolverFor(300)('push.test', never);
    const elapsed = Date.now() - start;
    expect(resolution.failure).toMatchObject({ code: 'dns_timeout', phase: 'dns' });
    expect(resolution.failure?.message).toMatch(/timed out after 3\d\d ms/);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1500);
    server.mode = 'answer';
  });

  it('reports SERVFAIL as dns_error', async () => {
    server.mode = 'servfail';
    const resolution = await resolverFor()('push.test', never);
    expect(resolution.failure).toMatchObject({ code: 'dns_error', phase: 'dns' });
    expect(resolution.failure?.message).toContain('SERVFAIL');
    server.mode = 'answer';
  });

  it('reports a closed DNS port as dns_error or dns_timeout, never a hang', async () => {
    const port = await closedPort();
    const resolve = createResolver({ pins: [], timeoutMs: 500, dnsServer: { host: '127.0.0.1', port } });
    const start = Date.now();
    const resolution = await resolve('push.test', never);
    expect(['dns_error', 'dns_timeout']).toContain(resolution.failure?.code);
    expect(Date.now() - start).toBeLessThan(1500);
  });

  it('stops promptly when aborted', async () => {
    server.mode = 'silent';
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const start = Date.now();
    const resolution = await resolverFor(5000)('push.test', controller.signal);
    expect(Date.now() - start).toBeLessThan(1000);
    expect(resolution.failure).toMatchObject({ code: 'dns_error' });
    expect(resolution.failure?.message).toContain('interrupted');
    server.mode = 'answer';
  });

  it('treats an abort with a TimeoutError reason as dns_timeout', async () => {
    server.mode = 'silent';
    const resolution = await resolverFor(5000)('push.test', AbortSignal.timeout(100));
    expect(resolution.failure).toMatchObject({ code: 'dns_timeout' });
    server.mode = 'answer';
  });

  it('pins take precedence over the DNS server', async () => {
    const pins = [parsePin('push.test=10.1.1.1')];
    const resolve = createResolver({ pins, timeoutMs: 1000, dnsServer: parseDnsServer(server.address) });
    expect(await resolve('push.test', never)).toMatchObject({ addresses: ['10.1.1.1'], pinned: true });
  });

  it('talks to a DNS server on ::1 given as [::1]:port', async (context) => {
    if (!(await ipv6Available())) {
      context.skip('no IPv6 loopback on this machine');
      return;
    }
    const v6 = await startDnsServer({ host: '::1', records: { 'push.test': { A: ['127.0.0.1'] } } });
    try {
      expect(v6.address).toMatch(/^\[::1\]:\d+$/);
      const resolve = createResolver({ pins: [], timeoutMs: 1000, dnsServer: parseDnsServer(v6.address) });
      expect((await resolve('push.test', never)).addresses).toEqual(['127.0.0.1']);
    } finally {
      await v6.close();
    }
  });
});

describe('a probe resolving through --dns-server', () => {
  let dns: LoopbackDnsServer;
  beforeAll(async () => {
    dns = await startDnsServer({ records: { 'push.test': { A: ['127.0.0.1'] } } });
  });
  afterAll(() => dns.close());

  it('connects to the address DNS gave, not pinned', async () => {
    const listener = await startTcpServer();
    try {
      dns.mode = 'answer';
      const ctx = probeContext({ dnsServer: parseDnsServer(dns.address) });
      const outcome = await tcpProbe.run(testTarget('push.test', listener.port, 'tcp'), ctx);
      expect(outcome).toMatchObject({ ok: true, address: '127.0.0.1', addresses: ['127.0.0.1'], pinned: false });
      expect(outcome.timings.dnsMs).toBeGreaterThan(0);
      expectTimings(outcome, ['dnsMs', 'connectMs']);
    } finally {
      await listener.close();
    }
  });

  it('fails with dns_not_found and never connects', async () => {
    dns.mode = 'answer';
    const outcome = await tcpProbe.run(testTarget('missing.test', 9, 'tcp'), probeContext({ dnsServer: parseDnsServer(dns.address) }));
    expect(outcome).toMatchObject({ ok: false, addresses: [], failure: { code: 'dns_not_found', phase: 'dns' } });
    expect(outcome.address).toBeUndefined();
    expect(Object.keys(outcome.timings)).toEqual(['dnsMs', 'totalMs']);
  });

  it('fails with dns_timeout at the probe bound when it is shorter than the resolver bound', async () => {
    dns.mode = 'silent';
    const ctx = probeContext({ dnsServer: parseDnsServer(dns.address), timeoutMs: 300, dnsTimeoutMs: 5000 });
    const start = Date.now();
    const outcome = await tcpProbe.run(testTarget('push.test', 9, 'tcp'), ctx);
    expect(Date.now() - start).toBeLessThan(1000);
    expect(outcome.failure).toMatchObject({ code: 'dns_timeout', phase: 'dns' });
    expect(outcome.timings.dnsMs).toBeGreaterThanOrEqual(290);
    expect(outcome.timings.totalMs).toBeGreaterThanOrEqual(outcome.timings.dnsMs ?? 0);
    dns.mode = 'answer';
  });
});

describe('the system resolver fitted to --timeout', () => {
  it('asks glibc for one try of the timeout rounded up to whole seconds, after the options already set', () => {
    const env: NodeJS.ProcessEnv = {};
    fitSystemResolver(1000, env);
    expect(env.RES_OPTIONS).toBe('timeout:1 attempts:1');
    const mine: NodeJS.ProcessEnv = { RES_OPTIONS: 'rotate ndots:2 ' };
    fitSystemResolver(2500, mine);
    // glibc reads the options in order: the later timeout and attempts win, rotate and ndots stay.
    expect(mine.RES_OPTIONS).toBe('rotate ndots:2 timeout:3 attempts:1');
    const tiny: NodeJS.ProcessEnv = {};
    fitSystemResolver(200, tiny);
    expect(tiny.RES_OPTIONS).toBe('timeout:1 attempts:1');
    const long: NodeJS.ProcessEnv = {};
    fitSystemResolver(120_000, long);
    expect(long.RES_OPTIONS).toBe('timeout:30 attempts:1'); // glibc's largest
  });

  it('counts libuv’s getaddrinfo slots as half its threads, rounded up', () => {
    expect(resolverSlots({})).toBe(2);
    expect(resolverSlots({ UV_THREADPOOL_SIZE: '1' })).toBe(1);
    expect(resolverSlots({ UV_THREADPOOL_SIZE: '5' })).toBe(3);
    expect(resolverSlots({ UV_THREADPOOL_SIZE: 'many' })).toBe(2);
  });
});
