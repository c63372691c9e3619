import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority, type CertificatePem } from '../../src/harness/certs.js';
import { httpProbe } from '../../src/probes/http.js';
import { probeFor } from '../../src/probes/index.js';
import { CLIENT_CERTIFICATE_NOTE } from '../../src/probes/tls.js';
import type { CheckKind, HttpExpectation } from '../../src/types.js';
import { expectTimings } from '../helpers/outcome.js';
import { probeContext, testTarget, type ContextOptions } from '../helpers/probe-context.js';
import {
  startHttpServer,
  startResetServer,
  startTcpServer,
  type HttpHandler,
  type TestServer,
} from '../helpers/servers.js';

interface Seen {
  method: string;
  url: string;
  host: string;
  userAgent: string;
}

const requests: Seen[] = [];
const servers: TestServer[] = [];
let ca: CertificateAuthority;
let inspection: CertificateAuthority;
let leaf: CertificatePem;
let plain: TestServer;
let https1: TestServer;
let https2: TestServer;

/** One handler for every server; the path picks the behaviour. */
const routes: HttpHandler = (req, res) => {
  const host = String(req.headers[':authority'] ?? req.headers.host ?? '');
  requests.push({ method: req.method ?? '', url: req.url ?? '', host, userAgent: String(req.headers['user-agent'] ?? '') });
  const path = (req.url ?? '/').split('?')[0];
  switch (path) {
    case '/status/503':
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('down');
      return;
    case '/status/404':
      res.writeHead(404);
      res.end();
      return;
    case '/json':
      res.writeHead(200, { 'content-type': 'Application/JSON; charset=utf-8' });
      res.end('{}');
      return;
    case '/html':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<h1>Blocked by policy</h1>');
      return;
    case '/big': {
      const body = 'x'.repeat(5000);
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(req.method === 'HEAD' ? '' : body);
      return;
    }
    case '/small-chunked':
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a'.repeat(60));
      res.end('b'.repeat(40));
      return;
    case '/endless': {
      // Chunked, never ends: the probe must stop reading by itself.
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('z'.repeat(1024)), 2);
      res.on('close', () => clearInterval(timer));
      return;
    }
    case '/hang':
      return;
    default:
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
  }
};

function expectation(overrides: Partial<HttpExpectation>): HttpExpectation {
  return { method: 'GET', path: '/', status: [], ...overrides };
}

function probe(server: TestServer, check: CheckKind, http?: Partial<HttpExpectation>, options: ContextOptions = {}, url?: string) {
  const target = testTarget('push.test', server.port, check, http ? { http: expectation(http) } : {}, url);
  const ctx = probeContext({ pins: [{ host: 'push.test', address: '127.0.0.1' }], ca: [ca.cert], timeoutMs: 2000, ...options });
  return httpProbe.run(target, ctx);
}

async function started(server: Promise<TestServer>): Promise<TestServer> {
  const s = await server;
  servers.push(s);
  return s;
}

beforeAll(async () => {
  ca = await createCertificateAuthority('Pushcheck Test CA');
  inspection = await createCertificateAuthority('Corp Inspection CA');
  leaf = await ca.issue({ names: ['push.test'] });
  plain = await started(startHttpServer(routes));
  https1 = await started(startHttpServer(routes, { tls: leaf }));
  https2 = await started(startHttpServer(routes, { tls: leaf, http2: true }));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('http probe: pass', () => {
  it('is the registry entry for checks http and https', () => {
    expect(probeFor('http')).toBe(httpProbe);
    expect(probeFor('https')).toBe(httpProbe);
  });

  it('https over HTTP/1.1: records status, type and size, TLS info and all four phases', async () => {
    requests.length = 0;
    const outcome = await probe(https1, 'https');
    expect(outcome.failure).toBeUndefined();
    expect(outcome).toMatchObject({ ok: true, address: '127.0.0.1', pinned: true });
    expect(outcome.http).toEqual({ status: 200, contentType: 'text/plain', bytes: 2 });
    expect(outcome.tls).toMatchObject({ alpn: 'http/1.1', issuer: 'Pushcheck Test CA', trusted: true });
    expectTimings(outcome, ['dnsMs', 'connectMs', 'tlsMs', 'httpMs']);
    expect(Object.keys(outcome.timings)).toEqual(['dnsMs', 'connectMs', 'tlsMs', 'httpMs', 'totalMs']);
    expect(requests).toEqual([{ method: 'GET', url: '/', host: `push.test:${https1.port}`, userAgent: 'pushcheck' }]);
    await https1.idle();
  });

  it('https over HTTP/2 when the server negotiates h2', async () => {
    requests.length = 0;
    const outcome = await probe(https2, 'https', { path: '/json', contentType: 'application/json', status: [200] });
    expect(outcome.failure).toBeUndefined();
    expect(outcome.ok).toBe(true);
    expect(outcome.tls?.alpn).toBe('h2');
    expect(outcome.http?.status).toBe(200);
    expect(requests).toEqual([expect.objectContaining({ method: 'GET', url: '/json', host: `push.test:${https2.port}` })]);
    await https2.idle();
  });

  it('plain http: no TLS phase', async () => {
    const outcome = await probe(plain, 'http');
    expect(outcome).toMatchObject({ ok: true, http: { status: 200 } });
    expect(outcome.tls).toBeUndefined();
    expect(Object.keys(outcome.timings)).toEqual(['dnsMs', 'connectMs', 'httpMs', 'totalMs']);
    await plain.idle();
  });

  it("uses the rule's method and path, and the target's URL when it has one", async () => {
    requests.length = 0;
    await probe(plain, 'http', { method: 'HEAD', path: '/big' });
    await probe(plain, 'http', { path: '/ignored' }, {}, `http://push.test:${plain.port}/v1/check?device=1`);
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual(['HEAD /big', 'GET /v1/check?device=1']);
  });

  it('accepts any status when the list is empty: any answer proves the path open', async () => {
    const outcome = await probe(plain, 'http', { path: '/status/404' });
    expect(outcome).toMatchObject({ ok: true, http: { status: 404 } });
  });

  it('compares the media type case-insensitively, ignoring parameters', async () => {
    const outcome = await probe(plain, 'http', { path: '/json', contentType: 'application/json' });
    expect(outcome).toMatchObject({ ok: true, http: { contentType: 'Application/JSON; charset=utf-8' } });
  });

  it('counts a chunked body up to maxBytes and passes when it is smaller', async () => {
    const outcome = await probe(plain, 'http', { path: '/small-chunked', maxBytes: 100 });
    expect(outcome).toMatchObject({ ok: true, http: { status: 200, bytes: 100 } });
  });

  it('does not read a body it has no limit for: bytes only from Content-Length', async () => {
    const outcome = await probe(plain, 'http', { path: '/endless' });
    expect(outcome).toMatchObject({ ok: true, http: { status: 200 } });
    expect(outcome.http?.bytes).toBeUndefined();
    await plain.idle();
  });
});

describe('http probe: expectations not met', () => {
  it('http_status names the status got and expected', async () => {
    const outcome = await probe(https1, 'https', { path: '/status/503', status: [200, 204] });
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatchObject({ code: 'http_status', phase: 'http' });
    expect(outcome.failure?.message).toContain('got 503, expected 200 or 204');
    expect(outcome.http?.status).toBe(503);
    expectTimings(outcome, ['dnsMs', 'connectMs', 'tlsMs', 'httpMs']);
  });

  it('http_content for the wrong media type, naming expected and got', async () => {
    const outcome = await probe(plain, 'http', { path: '/html', contentType: 'application/json' });
    expect(outcome.failure).toMatchObject({ code: 'http_content', phase: 'http' });
    expect(outcome.failure?.message).toContain('Content-Type text/html, expected application/json');
  });

  it('http_content for a HEAD whose Content-Length is too large', async () => {
    const outcome = await probe(plain, 'http', { method: 'HEAD', path: '/big', maxBytes: 1000 });
    expect(outcome.failure).toMatchObject({ code: 'http_content' });
    expect(outcome.failure?.message).toContain('Content-Length 5000');
    expect(outcome.http).toMatchObject({ status: 200, bytes: 5000 });
  });

  it('http_content for a GET whose chunked body is too large, reading no more than needed', async () => {
    const start = Date.now();
    const outcome = await probe(plain, 'http', { path: '/endless', maxBytes: 3000 });
    expect(Date.now() - start).toBeLessThan(1000);
    expect(outcome.failure).toMatchObject({ code: 'http_content' });
    expect(outcome.failure?.message).toContain('more than 3000 bytes');
    expect(outcome.http?.bytes).toBeGreaterThan(3000);
    expect(outcome.http?.bytes).toBeLessThan(3000 + 64 * 1024);
    await plain.idle();
  });

  it('http_timeout when the server never answers, bounded, connection closed', async () => {
    const start = Date.now();
    const outcome = await probe(https1, 'https', { path: '/hang' }, { timeoutMs: 400 });
    const elapsed = Date.now() - start;
    expect(outcome.failure).toMatchObject({ code: 'http_timeout', phase: 'http' });
    expect(outcome.failure?.message).toMatch(/timed out after \d+ ms/);
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1200);
    expect(outcome.tls?.trusted).toBe(true);
    await https1.idle(1000);
  });

  it('stops promptly when aborted mid-request', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const start = Date.now();
    const outcome = await probe(plain, 'http', { path: '/hang' }, { timeoutMs: 10_000, signal: controller.signal });
    expect(Date.now() - start).toBeLessThan(600);
    expect(outcome.failure).toMatchObject({ code: 'http_error', phase: 'http' });
    expect(outcome.failure?.message).toContain('interrupted');
    await plain.idle(1000);
  });
});

describe('http probe: network failures', () => {
  it('tcp_reset in phase http when the server resets on the request', async () => {
    const s = await started(startResetServer());
    const outcome = await probe(s, 'http');
    expect(outcome.failure).toMatchObject({ code: 'tcp_reset', phase: 'http' });
    expect(outcome.failure?.message).toContain('ECONNRESET');
    expect(outcome.timings.httpMs).toBeTypeOf('number');
  });

  it('http_error when the server closes without answering', async () => {
    const s = await started(startTcpServer({ onConnection: (socket) => socket.once('data', () => socket.end()) }));
    const outcome = await probe(s, 'http');
    expect(outcome.failure).toMatchObject({ code: 'http_error', phase: 'http' });
    expect(outcome.failure?.message).toContain('closed the connection');
  });

  it('tcp_refused in phase connect', async () => {
    const s = await startTcpServer();
    const port = s.port;
    await s.close();
    const outcome = await probe({ ...s, port }, 'https');
    expect(outcome.failure).toMatchObject({ code: 'tcp_refused', phase: 'connect' });
    expect(outcome.timings.tlsMs).toBeUndefined();
  });

  it('https fails exactly as the tls probe does on an untrusted certificate, recording it', async () => {
    const s = await started(startHttpServer(routes, { tls: await inspection.issue({ names: ['push.test'] }) }));
    requests.length = 0;
    const outcome = await probe(s, 'https');
    expect(outcome.failure).toMatchObject({ code: 'tls_untrusted', phase: 'tls' });
    expect(outcome.tls?.issuer).toBe('Corp Inspection CA');
    expect(outcome.http).toBeUndefined();
    expect(requests).toEqual([]);
    const insecure = await probe(s, 'https', undefined, { insecure: true });
    expect(insecure).toMatchObject({ ok: true, http: { status: 200 }, tls: { trusted: false } });
    expect(insecure.note).toContain('--insecure');
  });

  it('https against a plain-text port is tls_handshake_failed', async () => {
    const outcome = await probe(plain, 'https');
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed', phase: 'tls' });
  });
});

describe('http probe: servers that require a client certificate', () => {
  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: passes with the note, HTTP expectations unchecked`, async () => {
      const clientCa = await createCertificateAuthority('Client CA');
      const s = await started(
        startHttpServer(routes, {
          tls: {
            ...leaf,
            requestCert: true,
            rejectUnauthorized: true,
            ca: [clientCa.cert],
            minVersion: version,
            maxVersion: version,
          },
        }),
      );
      const outcome = await probe(s, 'https', { status: [200] });
      expect(outcome.failure).toBeUndefined();
      expect(outcome.ok).toBe(true);
      expect(outcome.note).toContain(CLIENT_CERTIFICATE_NOTE);
      expect(outcome.note).toContain('not checked');
      expect(outcome.tls).toMatchObject({ protocol: version, trusted: true });
      expect(outcome.http).toBeUndefined();
      await s.idle();
    });
  }
});
