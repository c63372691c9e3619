/**
 * The mqtt probe against a real broker: Debian's mosquitto, started here with a TLS listener on loopback and
 * anonymous access off (it answers CONNACK 5, "not authorised": still a pass), and against a TLS server that is
 * not MQTT (protocol_mismatch).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { connectPacket, mqttConnect, mqttProbe, readBytes } from '../../src/probes/mqtt.js';
import type { ProbeOutcome } from '../../src/types.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import { closedPort, startTlsServer, type TestServer } from '../helpers/servers.js';

const MOSQUITTO = '/usr/sbin/mosquitto';
const HOST = 'mqtt.push.test';

const missing = await import('node:fs').then((fs) => !fs.existsSync(MOSQUITTO));
if (missing) {
  if (process.env.CI) throw new Error(`CI needs mosquitto (${MOSQUITTO}): apt-get install mosquitto`);
  console.log(`mqtt probe tests against mosquitto skipped: ${MOSQUITTO} not found (apt-get install mosquitto)`);
}

let dir: string;
let ca: string;
let broker: ChildProcess | undefined;
let brokerPort: number;
let notMqtt: TestServer;
let brokerLog = '';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

beforeAll(async () => {
  const authority = await createCertificateAuthority('pushcheck mqtt test CA');
  ca = authority.cert;
  const leaf = await authority.issue({ names: [HOST] });
  notMqtt = await startTlsServer({ ...leaf, host: '127.0.0.1' });
  if (missing) return;
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-mqtt-'));
  writeFileSync(path.join(dir, 'cert.pem'), leaf.cert, { mode: 0o644 });
  writeFileSync(path.join(dir, 'key.pem'), leaf.key, { mode: 0o644 });
  brokerPort = await closedPort();
  const config = [
    // As root, mosquitto drops to the mosquitto user unless told otherwise; it must still read the files above.
    'user root',
    'persistence false',
    'log_dest stderr',
    `listener ${brokerPort} 127.0.0.1`,
    `certfile ${path.join(dir, 'cert.pem')}`,
    `keyfile ${path.join(dir, 'key.pem')}`,
    'allow_anonymous false',
    '',
  ].join('\n');
  writeFileSync(path.join(dir, 'mosquitto.conf'), config);
  broker = spawn(MOSQUITTO, ['-c', path.join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  broker.stderr?.setEncoding('utf8').on('data', (chunk: string) => (brokerLog += chunk));
  broker.stdout?.setEncoding('utf8').on('data', (chunk: string) => (brokerLog += chunk));
  for (let i = 0; i < 100 && !(await listening(brokerPort)); i += 1) {
    if (broker.exitCode !== null) throw new Error(`mosquitto exited: ${brokerLog}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (!(await listening(brokerPort))) throw new Error(`mosquitto did not listen within 5 s: ${brokerLog}`);
});

afterAll(async () => {
  if (broker && broker.exitCode === null) {
    const exited = new Promise((resolve) => broker!.once('exit', resolve));
    broker.kill('SIGTERM');
    await exited;
  }
  await notMqtt?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const run = (port: number) =>
  mqttProbe.run(testTarget(HOST, port, 'mqtt'), probeContext({ pins: [{ host: HOST, address: '127.0.0.1' }], ca: [ca], timeoutMs: 2000 }));

describe('mqtt probe', () => {
  it('writes an MQTT 3.1.1 CONNECT: protocol MQTT level 4, clean session, the client id', () => {
    expect(connectPacket('ab').toString('hex')).toBe('100e00044d5154540402003c00026162');
  });

  it.skipIf(missing)('passes against mosquitto, which refuses an anonymous client with CONNACK 5, and says so', async () => {
    const outcome = await run(brokerPort);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.ok).toBe(true);
    expect(outcome.note).toBe(
      'the MQTT broker answered CONNACK 5 (not authorised): it refuses an anonymous client, and so has shown that it is there',
    );
    expect(outcome.timings.httpMs).toBeGreaterThan(0);
  });

  it('fails a TLS server that never answers CONNECT with protocol_mismatch within the timeout', async () => {
    const started = performance.now();
    const outcome = await run(notMqtt.port);
    expect(outcome.failure).toMatchObject({ code: 'protocol_mismatch', phase: 'http' });
    expect(outcome.failure!.message).toMatch(/no CONNACK within \d+ ms of MQTT CONNECT/);
    expect(performance.now() - started).toBeLessThan(2000 + 1000);
  });

  it('reads as many bytes as asked when more came in one piece, and leaves the rest on the socket', async () => {
    const server = net.createServer((socket) => socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      // Wait for the whole answer to arrive as one chunk, as a server's first write does.
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await readBytes(socket, 4)).toString()).toBe('HTTP');
      expect((await readBytes(socket, 100)).toString()).toBe('/1.1 400 Bad Request\r\n\r\n');
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('names what a server that is not MQTT answered to CONNECT (an HTTP server: protocol_mismatch, got "HTTP")', async () => {
    const server = net.createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      await new Promise((resolve) => socket.once('connect', resolve));
      const outcome: ProbeOutcome = { ok: false, addresses: [], pinned: false, timings: { totalMs: 0 } };
      await mqttConnect(socket, outcome, new AbortController().signal, 2000);
      expect(outcome.failure).toMatchObject({ code: 'protocol_mismatch', phase: 'http' });
      expect(outcome.failure?.message).toContain('(MQTT CONNECT: got "HTTP" instead of a CONNACK)');
    } finally {
      socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
