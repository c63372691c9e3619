/**
 * The look before a timeout (docs/timeouts.md): a deadline that falls due while the event loop stands still is
 * declared only after the loop has read the input that came meanwhile. libuv runs the timers due before it polls
 * again, so after a stall in an I/O callback or a setImmediate (where pushcheck's own work runs) a deadline used to
 * fire before an answer that came in the stall was read: a healthy resolver or proxy read as silent. Against real
 * peers: the demo's DNS server in a process of its own (test/helpers/late-dns.mjs), whose answers leave on time
 * whatever this process's loop does, and tinyproxy and microsocks; a connect whose first SYN an nftables rule drops
 * (the kernel sends it again after a second, and the SYN-ACK comes while the loop stands still) in network namespaces.
 * The stalls are made on purpose (busyFor).
 */
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/run/run.js';
import { checkSettings } from '../../src/run/settings.js';
import type { DnsServer } from '../../src/probes/dns.js';
import type { Proxy } from '../../src/probes/types.js';
import type { Result, RuleSet } from '../../src/types.js';
import type { CheckSettings } from '../../src/run/run.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { microsocksArgs, proxyTestsSkipped, startMicrosocks, startTinyproxy, type TestProxy } from '../helpers/proxies.js';
import { startTcpServer, type TestServer } from '../helpers/servers.js';
import { busyFor, networkVerdict, watchLoop } from '../helpers/starved.js';
import { announceSkip, createFaultNetwork, faultNetworkUnavailable, SERVER_ADDRESS, SERVER_ADDRESS6, type FaultNetwork } from '../faults/netns.js';
import type { Report } from '../../src/types.js';

const LATE_DNS = fileURLToPath(new URL('../helpers/late-dns.mjs', import.meta.url));
const TIMEOUT_MS = 1000;
/**
 * When the late server answers, and the stall made across the deadline: from before the answer to 1040 ms. The first is
 * issue 9's case, a 480 ms stall (under half the attempt, so the old rule did not excuse it; a machine busy beside the
 * test may add enough to make it half, and then the old rule did); the second, a 180 ms stall, stays under half on a
 * busy machine too.
 */
const LATE = [
  { answerMs: 600, stallFromMs: 560 },
  { answerMs: 900, stallFromMs: 860 },
] as const;
const STALL_TO_MS = 1040;

interface LateDns {
  server: DnsServer;
  /**
   * When the first `count` answers left, in ms after `since` (a performance.now() of this process), once the server has
   * said so: its lines reach this process through a pipe its loop reads, maybe after the run that asked has ended (a
   * machine that starves the server sends them late). After 5 s, those said so far.
   */
  sentAfter: (since: number, count: number) => Promise<number[]>;
  close: () => Promise<void>;
}

/** The demo's DNS server in a child process on `host`, answering `mode` after `delayMs`. */
async function startLateDns(host: string, mode: 'answer' | 'silent', delayMs: number, records: object): Promise<LateDns> {
  const child = spawn(process.execPath, [LATE_DNS, host, mode, String(delayMs), JSON.stringify(records)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const sent: number[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve, reject) => {
    lines.on('line', (line) => {
      const [word, value] = line.split(' ');
      if (word === 'ready') resolve(Number(value));
      else if (word === 'sent') sent.push(Number(value));
    });
    child.once('exit', (code) => reject(new Error(`late-dns.mjs exited (${code}) before it was ready`)));
  });
  return {
    server: { host, port },
    sentAfter: async (since, count) => {
      const until = performance.now() + 5000;
      while (sent.length < count && performance.now() < until) {
        await new Promise<void>((resolve) => {
          const done = (): void => {
            clearTimeout(timer);
            lines.off('line', done);
            resolve();
          };
          const timer = setTimeout(done, until - performance.now());
          lines.on('line', done);
        });
      }
      return sent.slice(0, count).map((at) => at - (performance.timeOrigin + since));
    },
    close: async () => {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * Makes the loop stand still from `fromMs` to `toMs` after `started`, in a setImmediate (the check phase, as a
 * burst of pushcheck's own work in I/O callbacks would): the timers due then run before the loop polls again.
 */
function standStill(started: number, fromMs: number, toMs: number): NodeJS.Timeout {
  return setTimeout(() => setImmediate(() => busyFor(started + toMs - performance.now())), started + fromMs - performance.now());
}

/**
 * Whether the late server's answers to the run's first lookup (A and AAAA) left only past the deadline (its own timer
 * late on a machine busy beside the test), or not at all: then the network did answer late, and a timeout is its
 * honest verdict.
 */
async function answeredLate(dns: LateDns, started: number): Promise<boolean> {
  const sent = await dns.sentAfter(started, 2);
  return sent.length < 2 || sent.some((ms) => ms >= TIMEOUT_MS);
}

/**
 * Runs `set` with the loop standing still from `stallFromMs` to STALL_TO_MS, and holds its one result to what the
 * network gave: the answer came in time and the listener (or proxy) accepts, so a pass, or local_overload where a
 * machine busy beside the test starved the retry too (networkVerdict holds that to the stall the loop really had), or
 * the timeout where the server's own answer left late.
 */
async function expectPassAcrossStall(set: RuleSet, settings: CheckSettings, dns: LateDns, { answerMs, stallFromMs }: (typeof LATE)[number]): Promise<Result> {
  const loop = watchLoop();
  const started = performance.now();
  // Less than half the attempt's 1040 ms, so the old rule read the answer the stall hid as a timeout of the network's.
  const stall = standStill(started, stallFromMs, STALL_TO_MS);
  const report = await runChecks([set], settings).finally(() => {
    clearTimeout(stall);
    loop.stop();
  });
  const [result] = report.results;
  expect(loop.stalledMs(), 'the stall was made').toBeGreaterThanOrEqual(STALL_TO_MS - stallFromMs - 80);
  const verdict = networkVerdict(result!, { timeoutMs: TIMEOUT_MS, stalledMs: loop.stalledMs(), lookupMs: answerMs + 100 });
  if (!verdict.overloaded && !(await answeredLate(dns, started))) expect(result?.status, `${said(result)}, answers sent at ${await dns.sentAfter(started, 2)} ms`).toBe('pass');
  return result!;
}

const said = (result: Result | undefined): string => `${result?.status} ${result?.error?.code}: ${result?.error?.message} (attempts ${result?.attempts})`;

const FAMILIES = [
  { family: 'IPv4', loopback: '127.0.0.1', records: { A: ['127.0.0.1'] } },
  { family: 'IPv6', loopback: '::1', records: { AAAA: ['::1'] } },
] as const;

describe.each(FAMILIES)('the look before a lookup timeout ($family)', ({ loopback, records }) => {
  let listener: TestServer;

  beforeAll(async () => {
    listener = await startTcpServer({ host: loopback });
  });

  afterAll(async () => {
    await listener.close();
  });

  it.each(LATE)('a $answerMs ms answer read after a stall across the 1000 ms deadline: the connect goes on with it, never dns_timeout', async (late) => {
    const dns = await startLateDns(loopback, 'answer', late.answerMs, { 'late.test': records });
    try {
      const set = ruleSet([rule({ id: 'late', host: 'late.test', ports: [listener.port], check: 'tcp' })]);
      const settings = checkSettings({ timeoutMs: TIMEOUT_MS, concurrency: 1, dnsServer: dns.server });
      const result = await expectPassAcrossStall(set, settings, dns, late);
      expect(result.addresses, said(result)).toEqual([loopback]);
    } finally {
      await dns.close();
    }
  });

  it('a silent resolver still reads dns_timeout, on a free loop and with a short stall across the deadline', async () => {
    const dns = await startLateDns(loopback, 'silent', 0, { 'late.test': records });
    try {
      const set = ruleSet([rule({ id: 'silent', host: 'late.test', ports: [listener.port], check: 'tcp' })]);
      for (const stallMs of [0, 300]) {
        const loop = watchLoop();
        const started = performance.now();
        const stall = stallMs > 0 ? standStill(started, 850, 850 + stallMs) : undefined;
        const report = await runChecks([set], checkSettings({ timeoutMs: TIMEOUT_MS, concurrency: 1, dnsServer: dns.server })).finally(() => {
          clearTimeout(stall);
          loop.stop();
        });
        const [result] = report.results;
        // No false local_overload: networkVerdict fails the test where one claims more stall than the loop had.
        expect(networkVerdict(result!, { timeoutMs: TIMEOUT_MS, stalledMs: loop.stalledMs() }).code, said(result)).toBe('dns_timeout');
        if (loop.stalledMs() < 0.5 * TIMEOUT_MS) expect(result?.error?.code, `${stallMs} ms stall: ${said(result)}`).toBe('dns_timeout');
      }
    } finally {
      await dns.close();
    }
  });
});

const proxySkipped = proxyTestsSkipped('the look before a timeout through a proxy');

describe.skipIf(proxySkipped !== undefined)('the look before a timeout, through a proxy whose name answers late', () => {
  const CASES = [
    { name: 'tinyproxy (HTTP CONNECT), IPv4', protocol: 'http', loopback: '127.0.0.1', records: { A: ['127.0.0.1'] } },
    { name: 'microsocks (SOCKS5), IPv4', protocol: 'socks5', loopback: '127.0.0.1', records: { A: ['127.0.0.1'] } },
    { name: 'microsocks (SOCKS5), IPv6', protocol: 'socks5', loopback: '::1', records: { AAAA: ['::1'] } },
  ] as const;

  it.each(CASES.flatMap((tried) => LATE.map((late) => ({ ...tried, ...late }))))(
    '$name: the proxy’s name answers at $answerMs ms, read after a stall across the deadline: the dial goes on, never proxy_unreachable',
    async ({ protocol, loopback, records, ...late }) => {
      const listener = await startTcpServer({ host: loopback });
      const proxy: TestProxy =
        protocol === 'http' ? await startTinyproxy({ connectPorts: [listener.port] }) : await startMicrosocks({ host: loopback });
      const dns = await startLateDns(loopback, 'answer', late.answerMs, { 'proxy.late.test': records });
      try {
        const through: Proxy = { protocol, host: 'proxy.late.test', port: proxy.port };
        const set = ruleSet([rule({ id: 'proxied', host: loopback, ports: [listener.port], check: 'tcp' })]);
        const settings = checkSettings({ timeoutMs: TIMEOUT_MS, concurrency: 1, dnsServer: dns.server, proxy: through });
        // Through the proxy by its address, the path passes (and the code it runs is warm: its first run's compiling
        // would count as standing still too).
        const free = await runChecks([set], { ...settings, proxy: { ...through, host: loopback } });
        expect(free.results.map((result) => result.status), said(free.results[0])).toEqual(['pass']);
        // The dial that was left no time is this machine's doing (local_overload, tried again: a pass), never the
        // proxy's. Before, the stall was under half the attempt, and the proxy read as unreachable.
        await expectPassAcrossStall(set, settings, dns, late);
      } finally {
        await Promise.all([dns.close(), proxy.stop(), listener.close()]);
      }
    },
  );
});

const unavailable = await faultNetworkUnavailable();
announceSkip('the look before a connect timeout (network namespaces)', unavailable);
const noProxies = unavailable ?? proxyTestsSkipped('the look before a proxy dial timeout (network namespaces)');
const RUNS = fileURLToPath(new URL('./overload-look-runs.mjs', import.meta.url));
const WHEN_LISTENING = fileURLToPath(new URL('../helpers/when-listening.mjs', import.meta.url));
const execFileAsync = promisify(execFile);

/**
 * Ports in the server namespace. The first SYN to each FIRST_DROPPED one is dropped (an nftables counter of its own),
 * so that its connect opens when Linux sends the SYN again, a second later; every SYN to a DROPPED one is dropped.
 */
const PORTS = {
  open: 7340,
  firstDropped: { ipv4: 7301, ipv6: 7302 },
  proxyFirstDropped: { ipv4: 7311, ipv6: 7312 },
  dropped: 7320,
  proxyDropped: 7330,
} as const;
/**
 * Past the SYN sent again at about 1 s; the stall made across it, from before that SYN's answer: 310 of the attempt's
 * 1260 ms, under half with room for a busy machine's own stalls.
 */
const CONNECT_TIMEOUT_MS = 1200;
const ACROSS: [number, number] = [950, 1260];
/** A short stall across the deadline. */
const SHORT: [number, number] = [1000, 1300];

describe.skipIf(unavailable !== undefined)('the look before a connect timeout (network namespaces, nftables)', () => {
  let net: FaultNetwork;

  beforeAll(async () => {
    net = await createFaultNetwork({ ipv6: true });
    const servers = [SERVER_ADDRESS, SERVER_ADDRESS6].map((address) =>
      net.startServer('silent', [PORTS.open, PORTS.firstDropped.ipv4, PORTS.firstDropped.ipv6, PORTS.dropped].join(','), undefined, address),
    );
    await Promise.all(servers);
    if (noProxies === undefined) {
      const proxies: Array<[string, number]> = [
        [SERVER_ADDRESS, PORTS.proxyFirstDropped.ipv4],
        [SERVER_ADDRESS6, PORTS.proxyFirstDropped.ipv6],
        [SERVER_ADDRESS, PORTS.proxyDropped],
      ];
      for (const [address, port] of proxies) {
        const command = [process.execPath, WHEN_LISTENING, address, String(port), 'microsocks', ...microsocksArgs(address, port)];
        await net.runInServer(command, /^ready$/m, `microsocks on ${address}:${port}`);
      }
    }
    // After the servers are up: their own checks that they listen must not use up a first SYN.
    const firstDropped = [...Object.values(PORTS.firstDropped), ...Object.values(PORTS.proxyFirstDropped)];
    await net.firewall([
      ...firstDropped.map((port) => `tcp dport ${port} tcp flags & (syn | ack) == syn numgen inc mod 1000000 == 0 drop`),
      `tcp dport { ${PORTS.dropped}, ${PORTS.proxyDropped} } drop`,
    ]);
  }, 60_000);

  afterAll(async () => {
    await net?.close();
  });

  /** One tcp check of `address`:`port` in the client namespace, the loop standing still over `stall` (ms after the start). */
  async function checkInClient(address: string, port: number, stall: [number, number] | undefined, proxy?: object): Promise<{ result: Result; stalledMs: number }> {
    const ruleSets = [ruleSet([rule({ id: 'syn', host: address, ports: [port], check: 'tcp' })])];
    const warmUp = [ruleSet([rule({ id: 'warm', host: address, ports: [PORTS.open], check: 'tcp' })])];
    const input = JSON.stringify({ ruleSets, stall, warmUp, settings: { timeoutMs: CONNECT_TIMEOUT_MS, concurrency: 1, ...(proxy && { proxy }) } });
    const { stdout } = await execFileAsync('ip', ['netns', 'exec', net.client, process.execPath, RUNS, input], { timeout: 30_000 });
    const { report, stalledMs } = JSON.parse(stdout) as { report: Report; stalledMs: number };
    return { result: report.results[0]!, stalledMs };
  }

  const FAMILY = [
    { family: 'ipv4', address: SERVER_ADDRESS },
    { family: 'ipv6', address: SERVER_ADDRESS6 },
  ] as const;

  it.each(FAMILY)(
    'a SYN-ACK that came at about 1 s while the loop stood still from 950 to 1260 ms, across the 1200 ms deadline: the connect is read, a pass ($family)',
    { timeout: 30_000 },
    async ({ family, address }) => {
      // Under half the attempt, so before the connect read tcp_timeout though it had opened.
      const { result, stalledMs } = await checkInClient(address, PORTS.firstDropped[family], ACROSS);
      expect(stalledMs, 'the stall was made').toBeGreaterThanOrEqual(ACROSS[1] - ACROSS[0] - 50);
      const verdict = networkVerdict(result, { timeoutMs: CONNECT_TIMEOUT_MS, stalledMs });
      if (!verdict.overloaded) expect(result.status, said(result)).toBe('pass');
    },
  );

  it.each(FAMILY)(
    'a host that drops every SYN still reads tcp_timeout, on a free loop and with a 300 ms stall across the deadline ($family)',
    { timeout: 30_000 },
    async ({ address }) => {
      for (const stall of [undefined, SHORT]) {
        const { result, stalledMs } = await checkInClient(address, PORTS.dropped, stall);
        expect(networkVerdict(result, { timeoutMs: CONNECT_TIMEOUT_MS, stalledMs }).code, said(result)).toBe('tcp_timeout');
        if (stalledMs < 0.5 * CONNECT_TIMEOUT_MS) expect(result.error?.code, said(result)).toBe('tcp_timeout');
      }
    },
  );

  describe.skipIf(noProxies !== undefined)('through microsocks', () => {
    it.each(FAMILY)(
      'the proxy’s SYN-ACK came while the loop stood still across the deadline: the dial goes on, and never reads proxy_unreachable ($family)',
      { timeout: 30_000 },
      async ({ family, address }) => {
        const proxy = { protocol: 'socks5', host: address, port: PORTS.proxyFirstDropped[family] };
        const { result, stalledMs } = await checkInClient(address, PORTS.open, ACROSS, proxy);
        expect(stalledMs, 'the stall was made').toBeGreaterThanOrEqual(ACROSS[1] - ACROSS[0] - 50);
        // The connect to the proxy is read in the deadline's look; its SOCKS5 greeting then has no time: this
        // machine's doing (local_overload), tried again on a free loop, where the proxy answers at once: a pass.
        // Before, the stall was under half the attempt, and the proxy read as unreachable.
        const verdict = networkVerdict(result, { timeoutMs: CONNECT_TIMEOUT_MS, stalledMs, lookupMs: ACROSS[0] });
        if (!verdict.overloaded) expect(result.status, said(result)).toBe('pass');
      },
    );

    it('a proxy that drops every SYN still reads proxy_unreachable, on a free loop and with a 300 ms stall across the deadline', { timeout: 30_000 }, async () => {
      const proxy = { protocol: 'socks5', host: SERVER_ADDRESS, port: PORTS.proxyDropped };
      for (const stall of [undefined, SHORT]) {
        const { result, stalledMs } = await checkInClient(SERVER_ADDRESS, PORTS.open, stall, proxy);
        expect(networkVerdict(result, { timeoutMs: CONNECT_TIMEOUT_MS, stalledMs }).code, said(result)).toBe('proxy_unreachable');
        if (stalledMs < 0.5 * CONNECT_TIMEOUT_MS) expect(result.error?.code, said(result)).toBe('proxy_unreachable');
      }
    });
  });
});
