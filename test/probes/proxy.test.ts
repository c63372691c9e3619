/**
 * Probes through --proxy: real proxies on loopback, tinyproxy (HTTP CONNECT) and microsocks (SOCKS5), started by the
 * tests (test/helpers/proxies.ts). What neither can be made to do (refuse by a SOCKS ruleset, show what it was
 * asked, stay silent) is played by a scripted server of a few lines.
 */
import dns from 'node:dns';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileSync } from 'node:fs';
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/harness/certs.js';
import { probeFor } from '../../src/probes/index.js';
import { parseProxy } from '../../src/cli/proxy-option.js';
import type { CheckKind, FailureCode, ProbeOutcome } from '../../src/types.js';
import { startDnsServer } from '../../src/demo/dns-server.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import { microsocksArgs, proxyTestsSkipped, startMicrosocks, startTinyproxy, tinyproxyConfig, type TestProxy } from '../helpers/proxies.js';
import { closedPort, startHttpServer, startTcpServer, startTlsServer, type TestServer } from '../helpers/servers.js';
import { busyFor, watchLoop } from '../helpers/starved.js';
import { droppedInClient } from '../helpers/tcp-dropped.js';
import { announceSkip, CLIENT_ADDRESS, createDroppingNetwork, faultNetworkUnavailable, SERVER_ADDRESS, type FaultNetwork } from '../faults/netns.js';

const missing = proxyTestsSkipped('proxy tests against tinyproxy and microsocks');

// A target that drops SYNs is a port behind an nftables drop rule in a fault network's server namespace
// (test/faults/netns.ts), with a tinyproxy and a microsocks beside it there; the probe runs in the client namespace
// (helpers/tcp-dropped.mjs). The rule holds for the proxies' own connects too: they pass the namespace's input hook.
const unavailable = missing ?? (await faultNetworkUnavailable());
if (!missing) announceSkip('proxy tests: a target that drops SYNs (run in network namespaces)', unavailable);
const DROPPED = 7003;
const TINYPROXY_PORT = 7080;
const MICROSOCKS_PORT = 7081;
const WHEN_LISTENING = fileURLToPath(new URL('../helpers/when-listening.mjs', import.meta.url));
let faults: FaultNetwork | undefined;

const CREDENTIALS = { user: 'pushcheck', password: 'Pr0xy-s3cret' };
const PIN = { host: 'push.test', address: '127.0.0.1' };

let ca: CertificateAuthority;
const servers: TestServer[] = [];
const proxies: TestProxy[] = [];
/** Check kind → a server for it on 127.0.0.1. */
const targets = new Map<CheckKind, TestServer>();
/** A TLS server on every address "localhost" has, one port: wherever a proxy resolves it to, it connects. */
let localhost: TestServer;
/** A port tinyproxy lets CONNECT reach, with nothing listening. */
let closed: number;
/** A port tinyproxy does not let CONNECT reach. */
let forbidden: TestServer;
let tiny: TestProxy;
let tinyAuth: TestProxy;
let socks: TestProxy;
let socksAuth: TestProxy;

async function started<T extends TestServer | undefined>(server: Promise<T>): Promise<T> {
  const s = await server;
  if (s) servers.push(s);
  return s;
}

beforeAll(async () => {
  ca = await createCertificateAuthority('Proxy Test CA');
  if (missing) return;
  const leaf = await ca.issue({ names: ['push.test', 'localhost'] });
  const ok = (_req: unknown, res: { end: (body: string) => void }): void => res.end('ok');
  targets.set('tcp', await started(startTcpServer()));
  targets.set('tls', await started(startTlsServer(leaf)));
  targets.set('https', await started(startHttpServer(ok, { tls: leaf })));
  targets.set('http', await started(startHttpServer(ok)));
  const [first, ...others] = (await dns.promises.lookup('localhost', { all: true })).map((entry) => entry.address);
  localhost = await started(startTlsServer({ ...leaf, host: first }));
  for (const host of others) await started(startTlsServer({ ...leaf, host, port: localhost.port })).catch(() => undefined);
  forbidden = await started(startTlsServer(leaf));
  closed = await closedPort();
  const connectPorts = [...[...targets.values(), localhost].map((s) => s.port), closed];
  [tiny, tinyAuth, socks, socksAuth] = await Promise.all([
    startTinyproxy({ connectPorts }),
    startTinyproxy({ connectPorts, auth: CREDENTIALS }),
    startMicrosocks(),
    startMicrosocks({ auth: CREDENTIALS }),
  ]);
  proxies.push(tiny, tinyAuth, socks, socksAuth);
  if (unavailable) return;
  faults = await createDroppingNetwork({ dropped: DROPPED });
  const config = path.join(faults.dir, 'tinyproxy.conf');
  writeFileSync(config, tinyproxyConfig(TINYPROXY_PORT, { connectPorts: [DROPPED], listen: SERVER_ADDRESS, allow: CLIENT_ADDRESS }));
  const listening = (port: number, command: string[]) => [process.execPath, WHEN_LISTENING, SERVER_ADDRESS, String(port), ...command];
  await faults.runInServer(listening(TINYPROXY_PORT, ['tinyproxy', '-d', '-c', config]), /^ready$/m, 'tinyproxy in the fault network');
  await faults.runInServer(listening(MICROSOCKS_PORT, ['microsocks', ...microsocksArgs(SERVER_ADDRESS, MICROSOCKS_PORT)]), /^ready$/m, 'microsocks in the fault network');
}, 60_000);

afterAll(async () => {
  await faults?.close();
  await Promise.all(proxies.map((p) => p.stop()));
  await Promise.all(servers.map((s) => s.close()));
});

interface ProbeOptions {
  host?: string;
  pinned?: boolean;
  timeoutMs?: number;
}

function probe(check: CheckKind, port: number, proxy: string, options: ProbeOptions = {}): Promise<ProbeOutcome> {
  const ctx = probeContext({
    pins: options.pinned === false ? [] : [PIN],
    ca: [ca.cert],
    timeoutMs: options.timeoutMs ?? 3000,
    proxy: parseProxy(proxy),
  });
  const http = check === 'http' || check === 'https' ? { http: { method: 'GET' as const, path: '/', status: [200] } } : {};
  return probeFor(check).run(testTarget(options.host ?? 'push.test', port, check, http), ctx);
}

function expectFailure(outcome: ProbeOutcome, code: FailureCode, ...texts: string[]): void {
  expect(outcome.ok).toBe(false);
  expect(outcome.failure, outcome.failure?.message).toMatchObject({ code, phase: 'connect' });
  for (const text of texts) expect(outcome.failure?.message).toContain(text);
}

const KINDS = [
  { name: 'tinyproxy (HTTP CONNECT)', kind: 'HTTP', proxy: () => tiny, auth: () => tinyAuth, wrongKind: () => `http://127.0.0.1:${socks.port}`, inFaults: `http://${SERVER_ADDRESS}:${TINYPROXY_PORT}` },
  { name: 'microsocks (SOCKS5)', kind: 'SOCKS5', proxy: () => socks, auth: () => socksAuth, wrongKind: () => `socks5://127.0.0.1:${tiny.port}`, inFaults: `socks5://${SERVER_ADDRESS}:${MICROSOCKS_PORT}` },
];

for (const { name, kind, proxy, auth, wrongKind, inFaults } of KINDS) {
  describe.skipIf(missing !== undefined)(`through ${name}`, () => {
    it('tcp, tls, https and http pass over the tunnel to the pinned address; no DNS phase of ours', async () => {
      for (const [check, server] of targets) {
        const outcome = await probe(check, server.port, proxy().url);
        expect(outcome.failure, `${check}: ${outcome.failure?.message}`).toBeUndefined();
        expect(outcome).toMatchObject({ ok: true, address: '127.0.0.1', addresses: ['127.0.0.1'], pinned: true });
        expect(outcome.timings.dnsMs).toBeUndefined();
        expect(outcome.timings.connectMs).toBeGreaterThan(0);
        if (check === 'tls' || check === 'https') expect(outcome.tls).toMatchObject({ trusted: true, issuer: 'Proxy Test CA' });
        if (check === 'http' || check === 'https') expect(outcome.http?.status).toBe(200);
      }
      expect(Object.keys((await probe('tls', targets.get('tls')!.port, proxy().url)).timings)).toEqual(['connectMs', 'tlsMs', 'totalMs']);
    });

    it('sends a name that is not pinned to the proxy, which resolves it: no address of ours', async () => {
      const outcome = await probe('tls', localhost.port, proxy().url, { host: 'localhost', pinned: false });
      expect(outcome.failure?.message).toBeUndefined();
      expect(outcome).toMatchObject({ ok: true, addresses: [], pinned: false });
      expect(outcome.address).toBeUndefined();
    });

    it('proxy_auth without credentials or with a wrong password, which no message contains; passes with the right one', async () => {
      const port = targets.get('tls')!.port;
      expectFailure(await probe('tls', port, auth().url), 'proxy_auth', `${kind} proxy 127.0.0.1:${auth().port}`);
      const wrong = await probe('tls', port, auth().urlWith({ user: CREDENTIALS.user, password: 'Wr0ng-s3cret' }));
      expectFailure(wrong, 'proxy_auth');
      expect(JSON.stringify(wrong)).not.toMatch(/Wr0ng|s3cret/);
      const right = await probe('tls', port, auth().urlWith(CREDENTIALS));
      expect(right.failure?.message).toBeUndefined();
      expect(JSON.stringify(right)).not.toContain(CREDENTIALS.password);
    });

    it('a closed target port is tcp_refused, reported by the proxy', async () => {
      const outcome = await probe('tls', closed, proxy().url);
      expectFailure(outcome, 'tcp_refused', `reported by the ${kind} proxy 127.0.0.1:${proxy().port}`, `CONNECT 127.0.0.1:${closed}`);
      expect(outcome.address).toBe('127.0.0.1');
    });

    it('a proxy that is down is proxy_unreachable, naming it and the errno; address never names the proxy', async () => {
      const down = await closedPort();
      const outcome = await probe('tls', targets.get('tls')!.port, `${proxy().url.split(':')[0]}://127.0.0.1:${down}`, { pinned: false });
      expectFailure(outcome, 'proxy_unreachable', `${kind} proxy 127.0.0.1:${down}`, 'ECONNREFUSED');
      expect(outcome.address).toBeUndefined();
    });

    it.skipIf(unavailable !== undefined)('a target that drops SYNs times out within the probe timeout, waiting for the proxy', { timeout: 60_000 }, async () => {
      // The proxy of the fault network, pinned as probe() pins push.test; the client namespace reaches nothing else.
      const pins = [{ host: PIN.host, address: SERVER_ADDRESS }];
      const { outcome } = await droppedInClient<{ outcome: ProbeOutcome }>(faults, { case: 'probe', host: PIN.host, pins, port: DROPPED, proxy: inFaults, timeoutMs: 800 });
      expectFailure(outcome, 'tcp_timeout', 'timed out after', `gave no answer to CONNECT ${SERVER_ADDRESS}:${DROPPED}`);
      expect(outcome.timings.totalMs).toBeGreaterThanOrEqual(750);
      expect(outcome.timings.totalMs).toBeLessThan(1300);
    });

    it('the wrong kind of proxy on the port is proxy_error', async () => {
      expectFailure(await probe('tls', targets.get('tls')!.port, wrongKind(), { timeoutMs: 1000 }), 'proxy_error');
    });
  });
}

describe.skipIf(missing !== undefined)('proxy policy', () => {
  it("tinyproxy's refusal of a port is proxy_refused, with its status line", async () => {
    const outcome = await probe('tls', forbidden.port, tiny.url);
    expectFailure(outcome, 'proxy_refused', `HTTP proxy 127.0.0.1:${tiny.port} answered CONNECT 127.0.0.1:${forbidden.port}`, '403 Access violation');
  });
});

/** A proxy of a few lines: records each chunk it is sent and answers it with the next of `answers` (then nothing). */
async function scriptedProxy(answers: Array<string | number[]>): Promise<TestServer & { received: Buffer[] }> {
  const received: Buffer[] = [];
  const server = await started(
    startTcpServer({
      onConnection: (socket: net.Socket) => {
        let next = 0;
        socket.on('data', (chunk: Buffer) => {
          received.push(chunk);
          const answer = answers[next++];
          if (answer !== undefined) socket.write(typeof answer === 'string' ? answer : Buffer.from(answer));
        });
      },
    }),
  );
  return Object.assign(server, { received });
}

const SOCKS_NO_AUTH = [5, 0];
const socksReply = (code: number): number[] => [5, code, 0, 1, 0, 0, 0, 0, 0, 0];

describe('what is sent to the proxy (scripted proxies)', () => {
  it('HTTP: CONNECT with the name when not pinned, the pinned address when pinned ([IPv6]), and Basic credentials', async () => {
    const forbid = 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n';
    const named = await scriptedProxy([forbid]);
    await probe('tls', 443, `http://127.0.0.1:${named.port}`, { pinned: false });
    expect(named.received.join('')).toMatch(/^CONNECT push\.test:443 HTTP\/1\.1\r\nHost: push\.test:443\r\n/);
    expect(named.received.join('')).not.toContain('Proxy-Authorization');

    const pinned = await scriptedProxy([forbid]);
    const outcome = await probe('tls', 443, `http://${CREDENTIALS.user}:${CREDENTIALS.password}@127.0.0.1:${pinned.port}`);
    expectFailure(outcome, 'proxy_refused', '"HTTP/1.1 403 Forbidden"');
    const basic = Buffer.from(`${CREDENTIALS.user}:${CREDENTIALS.password}`).toString('base64');
    expect(pinned.received.join('')).toContain(`CONNECT 127.0.0.1:443 HTTP/1.1\r\n`);
    expect(pinned.received.join('')).toContain(`Proxy-Authorization: Basic ${basic}\r\n`);

    const v6 = await scriptedProxy([forbid]);
    const ctx = probeContext({ pins: [{ host: 'push.test', address: '::1' }], proxy: parseProxy(`http://127.0.0.1:${v6.port}`) });
    await probeFor('tcp').run(testTarget('push.test', 5223, 'tcp'), ctx);
    expect(v6.received.join('')).toMatch(/^CONNECT \[::1\]:5223 HTTP\/1\.1\r\n/);
  });

  it('SOCKS5: the name (type 3) when not pinned, the address (type 1 or 4) when pinned', async () => {
    const named = await scriptedProxy([SOCKS_NO_AUTH, socksReply(2)]);
    const outcome = await probe('tls', 443, `socks5://127.0.0.1:${named.port}`, { pinned: false });
    expectFailure(outcome, 'proxy_refused', `SOCKS5 proxy 127.0.0.1:${named.port} answered CONNECT push.test:443 with reply 2`, 'not allowed by ruleset');
    expect([...named.received[0]!]).toEqual([5, 1, 0]);
    expect([...named.received[1]!]).toEqual([5, 1, 0, 3, 9, ...Buffer.from('push.test'), 1, 187]);

    const v4 = await scriptedProxy([SOCKS_NO_AUTH, socksReply(2)]);
    await probe('tls', 443, `socks5://127.0.0.1:${v4.port}`);
    expect([...v4.received[1]!]).toEqual([5, 1, 0, 1, 127, 0, 0, 1, 1, 187]);

    const v6 = await scriptedProxy([SOCKS_NO_AUTH, socksReply(2)]);
    const ctx = probeContext({ pins: [{ host: 'push.test', address: '2001:db8::ffff:10.0.0.1' }], proxy: parseProxy(`socks5h://127.0.0.1:${v6.port}`) });
    await probeFor('tcp').run(testTarget('push.test', 443, 'tcp'), ctx);
    const address = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1];
    expect([...v6.received[1]!]).toEqual([5, 1, 0, 4, ...address, 1, 187]);
  });

  it('SOCKS5 replies map to the codes they mean, each saying the proxy reported it', async () => {
    const cases: Array<[number, FailureCode, string]> = [
      [1, 'proxy_error', 'general SOCKS server failure'],
      [3, 'tcp_unreachable', 'network unreachable'],
      [4, 'tcp_unreachable', 'host unreachable'],
      [5, 'tcp_refused', 'connection refused'],
      [6, 'tcp_timeout', 'TTL expired'],
      [8, 'proxy_error', 'address type not supported'],
    ];
    for (const [reply, code, text] of cases) {
      const proxy = await scriptedProxy([SOCKS_NO_AUTH, socksReply(reply)]);
      const outcome = await probe('tcp', 443, `socks5://127.0.0.1:${proxy.port}`);
      expectFailure(outcome, code, `reply ${reply}, "${text}"`);
      if (!code.startsWith('proxy_')) expect(outcome.failure?.message).toContain('reported by the SOCKS5 proxy');
    }
  });

  it('HTTP statuses map the same way', async () => {
    const cases: Array<[string, FailureCode]> = [
      ['407 Proxy Authentication Required', 'proxy_auth'],
      ['502 Bad Gateway', 'tcp_refused'],
      ['504 Gateway Timeout', 'tcp_timeout'],
      ['405 Method Not Allowed', 'proxy_refused'],
      ['501 Not Implemented', 'proxy_error'],
    ];
    for (const [status, code] of cases) {
      const proxy = await scriptedProxy([`HTTP/1.1 ${status}\r\n\r\n`]);
      expectFailure(await probe('tcp', 443, `http://127.0.0.1:${proxy.port}`), code, `"HTTP/1.1 ${status}"`);
    }
    const garbage = await scriptedProxy(['SSH-2.0-OpenSSH_9.2\r\n']);
    expectFailure(await probe('tcp', 443, `http://127.0.0.1:${garbage.port}`), 'proxy_error', 'something other than HTTP: "SSH-2.0');
  });

  it('a SOCKS5 proxy that wants a password and got none, or refuses the one given, is proxy_auth', async () => {
    const wants = await scriptedProxy([[5, 0xff]]);
    expectFailure(await probe('tcp', 443, `socks5://127.0.0.1:${wants.port}`), 'proxy_auth', '--proxy gives none');
    const refuses = await scriptedProxy([[5, 2], [1, 1]]);
    const outcome = await probe('tcp', 443, `socks5://${CREDENTIALS.user}:${CREDENTIALS.password}@127.0.0.1:${refuses.port}`);
    expectFailure(outcome, 'proxy_auth', 'rejected the user name and password');
    const [name, secret] = [Buffer.from(CREDENTIALS.user), Buffer.from(CREDENTIALS.password)];
    expect([...refuses.received[1]!]).toEqual([1, name.length, ...name, secret.length, ...secret]);
    expect(JSON.stringify(outcome)).not.toContain(CREDENTIALS.password);
  });

  it('a silent proxy costs the probe timeout and no more: tcp_timeout over HTTP, proxy_error at the SOCKS5 greeting; two pinned addresses each their share', async () => {
    const silent = await started(startTcpServer());
    for (const [scheme, code, unanswered] of [
      ['http', 'tcp_timeout', (destination: string) => `gave no answer to CONNECT ${destination}:443`],
      ['socks5', 'proxy_error', () => 'gave no answer to the SOCKS5 greeting'],
    ] as const) {
      // The bound, as in the fault network's test of a dropped target: an answer the proxy's wait was not ended at the
      // probe's deadline gives (twice the timeout, where 500 ms and a bound of 1000 let it pass) fails it.
      const outcome = await probe('tls', 443, `${scheme}://127.0.0.1:${silent.port}`, { timeoutMs: 800, pinned: false });
      expectFailure(outcome, code, 'timed out after', unanswered('push.test'));
      expect(outcome.timings.totalMs).toBeGreaterThanOrEqual(750);
      expect(outcome.timings.totalMs).toBeLessThan(1300);
      // Pinned addresses are sent in turn, each with its share of the time left; only the last share ends with the
      // budget's signal, so the first one's wait is ended by the proxy's own timer (proxy.ts readAnswer). Without it
      // the first address would wait out the whole timeout and the second would never be sent.
      const ctx = probeContext({ pins: [PIN, { ...PIN, address: '127.0.0.2' }], timeoutMs: 800, proxy: parseProxy(`${scheme}://127.0.0.1:${silent.port}`) });
      const loop = watchLoop();
      const shared = await probeFor('tcp').run(testTarget('push.test', 443, 'tcp'), ctx).finally(loop.stop);
      // A loop that stood still past the first share's end and the deadline at once (a busy machine: a run judges it
      // local_overload) left the second address no turn; only then may the first address's timeout be the outcome.
      const secondHadNoTurn = loop.stalledMs() >= 400 && shared.address === '127.0.0.1';
      if (secondHadNoTurn) expectFailure(shared, code, 'timed out after', unanswered('127.0.0.1'));
      else expectFailure(shared, code, 'timed out after', unanswered('127.0.0.2'), '2 addresses tried');
      if (!secondHadNoTurn) expect(shared.address).toBe('127.0.0.2');
      expect(shared.timings.totalMs).toBeGreaterThanOrEqual(750);
      expect(shared.timings.totalMs).toBeLessThan(1300);
    }
    await silent.idle();
  });

  it('a connect to the proxy read late, after the loop stood still past the deadline: the timeout counts from the try’s start, not 0 ms', async () => {
    const silent = await started(startTcpServer());
    for (const scheme of ['http', 'socks5'] as const) {
      const ctx = probeContext({ pins: [PIN], timeoutMs: 800, proxy: parseProxy(`${scheme}://127.0.0.1:${silent.port}`) });
      const probing = probeFor('tcp').run(testTarget('push.test', 443, 'tcp'), ctx);
      // The connect is under way; the loop stands still past the 800 ms deadline before it reads that it connected.
      setTimeout(() => busyFor(850), 0);
      const outcome = await probing;
      // The tunnel was begun with no time left: before, its message said `timed out after 0 ms`, which a user reads
      // as a proxy that failed at once. The run judges such a stall as the machine's (local_overload), not this test.
      const waitedMs = Number(/timed out after (\d+) ms/.exec(outcome.failure?.message ?? '')?.[1]);
      expect(waitedMs, outcome.failure?.message).toBeGreaterThanOrEqual(800);
      expect(waitedMs, outcome.failure?.message).toBeLessThanOrEqual(outcome.timings.totalMs + 1);
    }
    await silent.idle();
  });

  it("DNS is asked for the proxy's name only, never the target's; a proxy name that does not resolve is proxy_unreachable", async () => {
    const dnsServer = await startDnsServer({ records: { 'proxy.test': { A: ['127.0.0.1'] } } });
    try {
      const proxy = await scriptedProxy(['HTTP/1.1 403 Forbidden\r\n\r\n']);
      const run = (proxyHost: string): Promise<ProbeOutcome> =>
        probeFor('tcp').run(
          testTarget('push.test', 443, 'tcp'),
          probeContext({ dnsServer: dnsServer, proxy: parseProxy(`http://${proxyHost}:${proxy.port}`) }),
        );
      expectFailure(await run('proxy.test'), 'proxy_refused', `HTTP proxy proxy.test:${proxy.port} answered CONNECT push.test:443`);
      expectFailure(await run('missing.test'), 'proxy_unreachable', `HTTP proxy missing.test:${proxy.port}: its name did not resolve (NXDOMAIN`);
      expect(dnsServer.queries.map((q) => q.name).sort()).toEqual(['missing.test', 'missing.test', 'proxy.test', 'proxy.test']);
    } finally {
      await dnsServer.close();
    }
  });
});
