/**
 * --hold against a firewall that forgets idle connections, made for real: pushcheck in the client namespace holds
 * tls, apns (the harness's mock APNs) and mqtt (mosquitto) connections to servers in the server namespace; once
 * every connection has sat idle, the test adds nftables rules in front of the servers:
 *   ports 7101, 7201, 7301   `drop`                    the established flow is forgotten: idle_dropped
 *   ports 7102, 7202, 7302   `reject with tcp reset`   the next packet is answered with a reset: idle_reset
 *   ports 7103, 7203, 7303   no rule                   the far end answers the proof: pass
 * One run holds all nine at once (holds run side by side), which also keeps this test to one hold's time.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import type { Report } from '../../src/types.js';
import { MOSQUITTO, mosquittoMissing } from '../helpers/mosquitto.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { schemaErrors } from '../report/consumers.js';
import { announceSkip, createFaultNetwork, faultNetworkUnavailable, SERVER_ADDRESS, type FaultNetwork } from './netns.js';

const run = promisify(execFile);
const NS_APNS = fileURLToPath(new URL('./ns-apns.mjs', import.meta.url));
const HOST = 'hold.push.test';
const TIMEOUT_MS = 3000;
/** Long enough for the nine checks to pass and sit idle on a busy machine before the rules go in. */
const HOLD_S = 15;
/** How long every connection must have been silent, both ways, before the rules are added. */
const IDLE_BEFORE_RULES_MS = 1000;

const PORTS = { tls: [7101, 7102, 7103], apns: [7201, 7202, 7203], mqtt: [7301, 7302, 7303] } as const;
const DROPPED = [7101, 7201, 7301];
const RESET = [7102, 7202, 7302];
const ALL = Object.values(PORTS).flat();

const unavailable =
  (await faultNetworkUnavailable()) ?? mosquittoMissing();
announceSkip('--hold fault tests', unavailable);

let net: FaultNetwork | undefined;
let caFile = '';
let report: Report | undefined;
let rulesAddedAfterMs = 0;

/**
 * Established connections on the server side, by local port, with the ms since each last sent and received
 * (`ss -i`'s lastsnd and lastrcv).
 */
async function serverConnections(): Promise<Array<{ port: number; quietMs: number }>> {
  const { stdout } = await run('ip', ['netns', 'exec', net!.server, 'ss', '-tniH', 'state', 'established']);
  const found: Array<{ port: number; quietMs: number }> = [];
  let port: number | undefined;
  for (const line of stdout.split('\n')) {
    const local = /^\d+\s+\d+\s+(\S+):(\d+)\s/.exec(line);
    if (local) {
      port = Number(local[2]);
      continue;
    }
    const lastSent = /lastsnd:(\d+)/.exec(line)?.[1];
    const lastReceived = /lastrcv:(\d+)/.exec(line)?.[1];
    if (port !== undefined && lastSent !== undefined && lastReceived !== undefined) {
      found.push({ port, quietMs: Math.min(Number(lastSent), Number(lastReceived)) });
      port = undefined;
    }
  }
  return found;
}

beforeAll(async () => {
  if (unavailable) return;
  net = await createFaultNetwork();
  const authority = await createCertificateAuthority('pushcheck hold fault CA');
  const leaf = await authority.issue({ names: [HOST] });
  caFile = path.join(net.dir, 'ca.pem');
  const [certFile, keyFile] = [path.join(net.dir, 'leaf.pem'), path.join(net.dir, 'leaf.key')];
  writeFileSync(caFile, authority.cert);
  writeFileSync(certFile, leaf.cert, { mode: 0o644 });
  writeFileSync(keyFile, leaf.key, { mode: 0o644 });

  const mosquittoConf = path.join(net.dir, 'mosquitto.conf');
  writeFileSync(
    mosquittoConf,
    [
      'user root',
      'persistence false',
      'log_dest stderr',
      'allow_anonymous true',
      ...PORTS.mqtt.flatMap((port) => [`listener ${port} ${SERVER_ADDRESS}`, `certfile ${certFile}`, `keyfile ${keyFile}`]),
      '',
    ].join('\n'),
  );
  // The three servers start at once: two are Node processes, whose start a busy machine slows most.
  await Promise.all([
    net.startServer('tls', PORTS.tls.join(','), leaf),
    net.runInServer([process.execPath, NS_APNS, SERVER_ADDRESS, PORTS.apns.join(','), certFile, keyFile, caFile], /^ready$/m, 'mock APNs'),
    net.runInServer([MOSQUITTO, '-c', mosquittoConf], /mosquitto version \S+ running/, 'mosquitto'),
  ]);

  const held = (['tls', 'apns', 'mqtt'] as const).map((check) => ({
    id: check,
    host: HOST,
    ports: PORTS[check],
    check,
    hold: true,
    impact: `Devices miss pushes (${check})`,
  }));
  const rules = writeRuleFile(path.join(net.dir, 'hold.yaml'), 'hold', 'Held channels', held);

  const started = performance.now();
  const running = net.pushcheck(
    [rules, '--format', 'json', '--timeout', String(TIMEOUT_MS), '--ca', caFile, '--resolve', `${HOST}=${SERVER_ADDRESS}`, '--hold', `${HOLD_S}s`],
    { killAfterMs: 120_000 },
  );
  // Bounded: the connections must be idle well within the hold, or the test could not add its rules during it.
  for (let tries = 0; ; tries += 1) {
    const connections = await serverConnections();
    const idle = ALL.every((port) => connections.some((c) => c.port === port && c.quietMs >= IDLE_BEFORE_RULES_MS));
    if (idle) break;
    if (tries >= 100) throw new Error(`the held connections were not all idle after ${tries} looks: ${JSON.stringify(connections)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await net.firewall([`tcp dport { ${DROPPED.join(', ')} } drop`, `tcp dport { ${RESET.join(', ')} } reject with tcp reset`]);
  rulesAddedAfterMs = performance.now() - started;
  const done = await running;
  expect(done.stderr).toBe('');
  report = JSON.parse(done.stdout) as Report;
  expect(done.code).toBe(report.exitCode);
}, 180_000);

afterAll(async () => {
  await net?.close();
});

describe.skipIf(unavailable !== undefined)('--hold against nftables in a network namespace', () => {
  const result = (port: number) => {
    const found = report!.results.find((r) => r.port === port);
    if (!found) throw new Error(`no result for port ${port}`);
    return found;
  };

  it('added the rules while every connection was held idle (the test itself is sound)', () => {
    expect(rulesAddedAfterMs).toBeLessThan(HOLD_S * 1000);
    expect(report!.results).toHaveLength(ALL.length);
    expect(schemaErrors(JSON.parse(JSON.stringify(report)))).toBeUndefined();
  });

  it.each(DROPPED)('port %i: the dropped flow gives idle_dropped, with how long the connection sat idle', (port) => {
    const r = result(port);
    expect(r.status).toBe('fail');
    expect(r.error).toMatchObject({ code: 'idle_dropped', phase: 'hold' });
    expect(r.error!.message).toMatch(
      new RegExp(`no answer to an? .+ within ${TIMEOUT_MS} ms after 15 s idle: the connection did not survive 15 s of idle time\\)$`),
    );
    expect(r.error!.hint).toMatch(/idle timeout of 30 min or more on 5223, 443 and 5228-5230/);
    expect(r.hold).toMatchObject({ end: 'dropped', requestedMs: HOLD_S * 1000 });
  });

  it.each(RESET)('port %i: the flow rejected with a TCP reset gives idle_reset', (port) => {
    const r = result(port);
    expect(r.status).toBe('fail');
    expect(r.error).toMatchObject({ code: 'idle_reset', phase: 'hold' });
    expect(r.error!.message).toMatch(/^the connection worked, but after being idle it was reset.*reset \((ECONNRESET|EPIPE)\) in answer to/);
    expect(r.hold).toMatchObject({ end: 'reset' });
  });

  it.each([7103, 7203, 7303])('port %i: with no rule, the far end answers the proof: pass', (port) => {
    const r = result(port);
    expect(r.status).toBe('pass');
    expect(r.hold).toMatchObject({ end: 'answered', requestedMs: HOLD_S * 1000 });
    expect(r.hold!.detail).toMatch(/^the (far end|broker) answered/);
  });

  it('fails the run: idle_dropped and idle_reset are failures of their targets', () => {
    expect(report!.exitCode).toBe(1);
    expect(report!.summary.failed).toBe(DROPPED.length + RESET.length);
    expect(report!.summary.passed).toBe(3);
  });

  it('names the cause once for all six: idle_timeout, asking for a longer idle timeout on those ports', () => {
    expect(report!.findings?.map((f) => [f.cause, f.targets])).toEqual([['idle_timeout', DROPPED.length + RESET.length]]);
    expect(report!.findings![0]!.action).toContain('A TCP idle timeout of 30 minutes or more for outbound TCP 7101');
  });
});
