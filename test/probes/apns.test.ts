/**
 * The apns probe against the harness's mock APNs (HTTP/2 over TLS, APNs's own JSON errors: a pass) and against an
 * ordinary HTTPS server that speaks HTTP/2, or HTTP/1.1 only (something else on the port: protocol_mismatch).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../src/harness/clock.js';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { ApnsService } from '../../src/harness/services/apns.js';
import { startApnsServer, type ApnsEndpoint } from '../../src/harness/services/apns-http.js';
import { apnsProbe } from '../../src/probes/apns.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import { startHttpServer, type HttpHandler, type TestServer } from '../helpers/servers.js';

const HOST = 'api.push.test';
let ca: string;
let apns: ApnsEndpoint;
let h2: TestServer;
let h1: TestServer;

beforeAll(async () => {
  const authority = await createCertificateAuthority('pushcheck apns test CA');
  ca = authority.cert;
  const leaf = await authority.issue({ names: [HOST] });
  apns = await startApnsServer({ service: new ApnsService({ clock: new VirtualClock() }), host: '127.0.0.1', ...leaf, ca });
  const page: HttpHandler = (_req, res) => {
    res.writeHead(404, { 'content-type': 'text/html' });
    res.end('<html><body>Not Found</body></html>');
  };
  h2 = await startHttpServer(page, { tls: leaf, http2: true });
  h1 = await startHttpServer(page, { tls: leaf });
});

afterAll(async () => {
  await Promise.all([apns.close(), h2.close(), h1.close()]);
});

const run = (port: number) =>
  apnsProbe.run(testTarget(HOST, port, 'apns'), probeContext({ pins: [{ host: HOST, address: '127.0.0.1' }], ca: [ca] }));

describe('apns probe', () => {
  it("passes on APNs's own answer to a request without credentials, and notes the reason", async () => {
    const outcome = await run(apns.port);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.ok).toBe(true);
    expect(outcome.tls?.alpn).toBe('h2');
    expect(outcome.http?.status).toBe(403);
    expect(outcome.note).toMatch(/^APNs answered 403 MissingProviderToken to a request without credentials, as it should \(apns-id [0-9A-F-]{36}\)$/i);
    expect(outcome.timings.httpMs).toBeGreaterThan(0);
  });

  it('fails an ordinary HTTP/2 server with protocol_mismatch, naming what answered', async () => {
    const outcome = await run(h2.port);
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatchObject({ code: 'protocol_mismatch', phase: 'http' });
    expect(outcome.failure!.message).toContain('no APNs answer (JSON reason and apns-id): got HTTP/2 404, text/html: "<html><body>Not Found</body></html>"');
  });

  it('fails a server without h2 in ALPN (HTTP/1.1 only) before sending anything', async () => {
    const outcome = await run(h1.port);
    expect(outcome.failure).toMatchObject({ code: 'protocol_mismatch' });
    // Node's HTTPS server refuses an offer without http/1.1 (TLS alert); another server might choose http/1.1.
    expect(outcome.failure!.message).toMatch(/asked for h2 in ALPN, the server (refused it|chose http\/1\.1)/);
    expect(outcome.http).toBeUndefined();
  });
});
