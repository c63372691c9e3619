/**
 * The mqtt probe against a real broker: Debian's mosquitto, started here with a TLS listener on loopback and
 * anonymous access off (it answers CONNACK 5, "not authorised": still a pass), and against a TLS server that is
 * not MQTT (protocol_mismatch).
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { connectPacket, mqttConnect, mqttProbe, readBytes } from '../../src/probes/mqtt.js';
import type { ProbeOutcome } from '../../src/types.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import { mosquittoSkip, startMosquitto, type Broker } from '../helpers/mosquitto.js';
import { startTlsServer, type TestServer } from '../helpers/servers.js';

const HOST = 'mqtt.push.test';

const missing = mosquittoSkip('mqtt probe tests against mosquitto');

let ca: string;
let broker: Broker | undefined;
let notMqtt: TestServer;

beforeAll(async () => {
  const authority = await createCertificateAuthority('pushcheck mqtt test CA');
  ca = authority.cert;
  const leaf = await authority.issue({ names: [HOST] });
  notMqtt = await startTlsServer({ ...leaf, host: '127.0.0.1' });
  if (missing) return;
  broker = await startMosquitto(leaf, { anonymous: false });
});

afterAll(async () => {
  await broker?.stop();
  await notMqtt?.close();
});

const run = (port: number) =>
  mqttProbe.run(testTarget(HOST, port, 'mqtt'), probeContext({ pins: [{ host: HOST, address: '127.0.0.1' }], ca: [ca], timeoutMs: 2000 }));

describe('mqtt probe', () => {
  it('writes an MQTT 3.1.1 CONNECT: protocol MQTT level 4, clean session, the client id', () => {
    expect(connectPacket('ab').toString('hex')).toBe('100e00044d5154540402003c00026162');
  });

  it.skipIf(missing !== undefined)('passes against mosquitto, which refuses an anonymous client with CONNACK 5, and says so', async () => {
    const outcome = await run(broker!.port);
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
