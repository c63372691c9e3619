/** APNs details a client meets: the VoIP payload limit, the advertised stream limit, GOAWAY when the server goes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { VirtualClock } from '../../src/harness/clock.js';
import { ApnsService } from '../../src/harness/services/apns.js';
import { APNS_MAX_CONCURRENT_STREAMS, startApnsServer, type ApnsEndpoint } from '../../src/harness/services/apns-http.js';
import { issuePushCertificate } from '../../src/harness/services/push-certificates.js';
import { h2request, hexToken } from './helpers.js';

const TOPIC = 'com.example.limits';
let ca: Awaited<ReturnType<typeof createCertificateAuthority>>;
let client: { cert: string; key: string };
let service: ApnsService;
let server: ApnsEndpoint;

beforeAll(async () => {
  ca = await createCertificateAuthority('limits CA');
  const tls = await ca.issue({ names: ['localhost', '127.0.0.1'] });
  client = await issuePushCertificate(ca, { topic: TOPIC, uuid: '12345678-1234-4234-8234-123456789abc' });
  service = new ApnsService({ clock: new VirtualClock(Date.now()) });
  server = await startApnsServer({ service, host: '127.0.0.1', ...tls, ca: ca.cert });
});
afterAll(async () => {
  await server?.close();
});

const connect = (): http2.ClientHttp2Session => {
  const s = http2.connect(`https://127.0.0.1:${server.port}`, { ca: ca.cert, servername: 'localhost', ...client });
  s.on('error', () => undefined);
  return s;
};

describe('mock APNs limits', () => {
  it('a VoIP notification may carry 5120 bytes, others 4096', async () => {
    const token = hexToken(0x9001);
    service.registerToken(token, TOPIC);
    const session = connect();
    const send = (type: string, bytes: number) =>
      h2request(session, { path: `/3/device/${token}`, headers: { 'apns-topic': TOPIC, 'apns-push-type': type }, body: `{"a":"${'x'.repeat(bytes - 8)}"}` });
    expect((await send('voip', 5120)).status).toBe(200);
    expect((await send('voip', 5121)).json).toEqual({ reason: 'PayloadTooLarge' });
    expect((await send('alert', 4097)).json).toEqual({ reason: 'PayloadTooLarge' });
    session.close();
  });

  it('advertises about 1,000 concurrent streams, as Apple does', async () => {
    const session = connect();
    const settings = await new Promise<http2.Settings>((resolve) => session.once('remoteSettings', resolve));
    expect(settings.maxConcurrentStreams).toBe(APNS_MAX_CONCURRENT_STREAMS);
    session.close();
  });

  it('sends GOAWAY with a reason when it shuts down', async () => {
    const session = connect();
    await new Promise<void>((resolve) => session.once('remoteSettings', () => resolve()));
    const goaway = new Promise<{ code: number; data: string }>((resolve) => session.once('goaway', (code, _last, data) => resolve({ code, data: data?.toString() ?? '' })));
    await server.close();
    expect(await goaway).toEqual({ code: http2.constants.NGHTTP2_NO_ERROR, data: '{"reason":"Shutdown"}' });
  });
});
