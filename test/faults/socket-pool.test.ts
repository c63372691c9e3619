/**
 * The tcp check's socket pool against a real firewall: connects from the client namespace, one after another on one
 * re-used socket, to servers behind nftables rules that drop SYNs, answer them with ICMP (admin-prohibited,
 * host-unreachable) or with a TCP reset, and to addresses that drop or reject everything. Every step must give the
 * verdict a new socket gives, and the socket must come back clean after each (test/helpers/pool-steps.ts).
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { expectPoolParity, type PoolStep } from '../helpers/pool-steps.js';
import { announceSkip, createFaultNetwork, faultNetworkUnavailable, SERVER_ADDRESS, type FaultNetwork } from './netns.js';

const unavailable = await faultNetworkUnavailable();
announceSkip('socket pool fault tests', unavailable);

const DROPPING = '10.213.0.3';
const REJECTING = '10.213.0.4';

let net: FaultNetwork | undefined;

beforeAll(async () => {
  if (unavailable) return;
  net = await createFaultNetwork();
  await net.addAddress(DROPPING);
  await net.addAddress(REJECTING);
  await net.firewall([
    'tcp dport 7003 drop',
    'tcp dport 7004 reject with icmp type admin-prohibited',
    'tcp dport 7011 reject with icmp type host-unreachable',
    'tcp dport 7012 reject with tcp reset',
    `ip daddr ${DROPPING} drop`,
    `ip daddr ${REJECTING} reject with icmp type host-unreachable`,
  ]);
  // Healthy servers stand behind the rules: it is the firewall that answers, not an empty port. 7002 has none.
  await net.startServer('silent', '7001,7003,7004,7011,7012');
}, 60_000);

afterAll(async () => {
  await net?.close();
});

it.skipIf(unavailable)('re-uses one socket after drops, ICMP rejections, resets and aborts, with the verdicts of new sockets', async () => {
  const at = (port: number, timeoutMs = 2000) => ({ addresses: [SERVER_ADDRESS], port, timeoutMs });
  const ok = { ok: true, address: SERVER_ADDRESS } as const;
  const steps: PoolStep[] = [
    { name: 'connects', ...at(7001), expect: ok },
    { name: 'dropped', ...at(7003, 400), expect: { ok: false, code: 'tcp_timeout', address: SERVER_ADDRESS } },
    { name: 'connects after a drop', ...at(7001), expect: ok },
    { name: 'ICMP admin-prohibited', ...at(7004), expect: { ok: false, code: 'tcp_unreachable', message: /EHOSTUNREACH/ } },
    { name: 'connects after an ICMP rejection', ...at(7001), expect: ok },
    { name: 'ICMP host-unreachable', ...at(7011), expect: { ok: false, code: 'tcp_unreachable', message: /EHOSTUNREACH/ } },
    { name: 'the firewall resets the SYN', ...at(7012), expect: { ok: false, code: 'tcp_refused', message: /ECONNREFUSED/ } },
    { name: 'nothing listens', ...at(7002), expect: { ok: false, code: 'tcp_refused', message: /ECONNREFUSED/ } },
    { name: 'connects after a reset', ...at(7001), expect: ok },
    { name: 'first address dropped, the second connects in its share', addresses: [DROPPING, SERVER_ADDRESS], port: 7001, timeoutMs: 800, expect: ok },
    { name: 'first address unreachable, the second connects', addresses: [REJECTING, SERVER_ADDRESS], port: 7001, timeoutMs: 2000, expect: ok },
    { name: 'interrupted mid-connect', ...at(7003, 5000), abortAfterMs: 150, expect: { ok: false, code: 'tcp_error', message: /interrupted/ } },
    { name: 'the probe’s budget ends it', ...at(7003, 300), signalTimesOutAfterMs: 300, expect: { ok: false, code: 'tcp_timeout', message: /timed out/ } },
    { name: 'connects at the end', ...at(7001), expect: ok },
  ];
  expect(net).toBeDefined();
  await expectPoolParity(steps, ['ip', 'netns', 'exec', net?.client ?? '']);
}, 60_000);
