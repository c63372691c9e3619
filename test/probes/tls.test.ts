import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority, type CertificatePem } from '../../src/harness/certs.js';
import { PhaseError } from '../../src/probes/classify.js';
import { probeFor } from '../../src/probes/index.js';
import { connectTcp } from '../../src/probes/tcp.js';
import { CLIENT_CERTIFICATE_NOTE, handshakeTls, tlsProbe } from '../../src/probes/tls.js';
import type { ProbeContext } from '../../src/probes/types.js';
import { selfSignedCertificate } from '../helpers/certs.js';
import { expectTimings } from '../helpers/outcome.js';
import { probeContext, testTarget, type ContextOptions } from '../helpers/probe-context.js';
import {
  startPlainTextServer,
  startResetServer,
  startTcpServer,
  startTlsServer,
  type TestServer,
} from '../helpers/servers.js';

const DAY_MS = 86_400_000;
const NOT_AFTER = new Date('2030-01-01T00:00:00Z');
const never = new AbortController().signal;

let ca: CertificateAuthority;
let inspection: CertificateAuthority;
let clientCa: CertificateAuthority;
let leaf: CertificatePem;
const servers: TestServer[] = [];

async function server(options: tls.TlsOptions): Promise<TestServer> {
  const started = await startTlsServer(options);
  servers.push(started);
  return started;
}

/** A context where push.test is pinned to 127.0.0.1 and the test CA is trusted (--ca). */
function ctx(options: ContextOptions = {}): ProbeContext {
  return probeContext({ pins: [{ host: 'push.test', address: '127.0.0.1' }], ca: [ca.cert], timeoutMs: 2000, ...options });
}

function probe(port: number, options: ContextOptions = {}, host = 'push.test') {
  return tlsProbe.run(testTarget(host, port, 'tls'), ctx(options));
}

beforeAll(async () => {
  ca = await createCertificateAuthority('Pushcheck Test CA');
  inspection = await createCertificateAuthority('Corp Inspection CA');
  clientCa = await createCertificateAuthority('Client CA');
  leaf = await ca.issue({ names: ['push.test', '127.0.0.1'], notAfter: NOT_AFTER });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('tls probe: pass', () => {
  it('is the registry entry for check tls', () => {
    expect(probeFor('tls')).toBe(tlsProbe);
  });

  it('passes with a trusted certificate and records TlsInfo, daysLeft from the injected clock', async () => {
    const s = await server({ ...leaf, ALPNProtocols: ['h2', 'http/1.1'] });
    const now = new Date(NOT_AFTER.getTime() - 10.5 * DAY_MS);
    const outcome = await probe(s.port, { now: () => now });
    expect(outcome.failure).toBeUndefined();
    expect(outcome).toMatchObject({ ok: true, address: '127.0.0.1', pinned: true });
    expect(outcome.tls).toEqual({
      protocol: 'TLSv1.3',
      cipher: expect.stringMatching(/^TLS_/),
      subject: 'push.test',
      issuer: 'Pushcheck Test CA',
      validTo: '2030-01-01T00:00:00.000Z',
      daysLeft: 10,
      altNames: ['push.test', '127.0.0.1'],
      trusted: true,
    });
    expect(outcome.note).toBeUndefined();
    expectTimings(outcome, ['dnsMs', 'connectMs', 'tlsMs']);
    expect(Object.keys(outcome.timings)).toEqual(['dnsMs', 'connectMs', 'tlsMs', 'totalMs']);
    await s.idle();
  });

  it('offers no ALPN, so a server that insists on a protocol of its own (courier on 443) still completes', async () => {
    const s = await server({ ...leaf, ALPNProtocols: ['apns-security-v3'] });
    const outcome = await probe(s.port);
    expect(outcome.ok).toBe(true);
    expect(outcome.tls?.alpn).toBeUndefined();
  });

  it('has no alpn when the server does not negotiate one', async () => {
    const s = await server({ ...leaf });
    const outcome = await probe(s.port);
    expect(outcome.ok).toBe(true);
    expect(outcome.tls?.alpn).toBeUndefined();
  });

  it('sends the host as SNI, and none for an IP literal (verified against the IP SAN)', async () => {
    const names: string[] = [];
    const s = await server({
      ...leaf,
      SNICallback: (name, callback) => {
        names.push(name);
        callback(null, tls.createSecureContext(leaf));
      },
    });
    expect((await probe(s.port)).ok).toBe(true);
    const byIp = await probe(s.port, {}, '127.0.0.1');
    expect(byIp).toMatchObject({ ok: true, address: '127.0.0.1', pinned: false });
    expect(names).toEqual(['push.test']);
  });

  it('negotiates TLS 1.2 too and records it', async () => {
    const s = await server({ ...leaf, maxVersion: 'TLSv1.2' });
    const outcome = await probe(s.port);
    expect(outcome.ok).toBe(true);
    expect(outcome.tls?.protocol).toBe('TLSv1.2');
    expect(outcome.tls?.cipher).toMatch(/^TLS_ECDHE_ECDSA_WITH_/);
  });

  it('resumes no session across targets of a run (one secure context is shared): each handshake is verified in full', async () => {
    const cas = [ca.cert]; // one array for the run, as the run hands every probe
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const s = await startTlsServer({ ...leaf, maxVersion });
      servers.push(s);
      for (let i = 0; i < 3; i += 1) {
        const { socket } = await connectTcp('127.0.0.1', s.port, { signal: never, timeoutMs: 1000 });
        const session = await handshakeTls(socket, { host: 'push.test', ca: cas, insecure: false, now: () => new Date(), signal: never, timeoutMs: 1000 });
        // Time for a TLS 1.3 server's session tickets, which follow the handshake, to reach the client.
        await new Promise((resolve) => setTimeout(resolve, 50));
        expect(session.socket.isSessionReused(), `${maxVersion}, handshake ${i + 1}`).toBe(false);
        expect(session.info.trusted).toBe(true);
        session.socket.destroy();
      }
    }
  });
});

describe('tls probe: a connection that takes its time', () => {
  it("makes the run's context while it waits (not after), and judges the chain as ever", async () => {
    const good = await server(leaf);
    const answered: number[] = [];
    // An HTTP CONNECT proxy that answers 300 ms late: a connect on a network with round trips to wait for.
    const proxy = net.createServer((client) => {
      client.on('error', () => undefined);
      client.once('data', (head: Buffer) => {
        const [, host, port] = /^CONNECT \[?([^\]\s]+?)\]?:(\d+) /.exec(head.toString()) ?? [];
        setTimeout(() => {
          const upstream = net.connect(Number(port), host, () => {
            answered.push(performance.now());
            client.write('HTTP/1.1 200 Connection established\r\n\r\n');
            upstream.pipe(client).pipe(upstream);
          });
          upstream.on('error', () => client.destroy());
        }, 300);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const madeAt: number[] = [];
    const original = tls.createSecureContext;
    const made = vi.spyOn(tls, 'createSecureContext').mockImplementation((options) => {
      madeAt.push(performance.now());
      return original(options);
    });
    try {
      const viaProxy = { proxy: { protocol: 'http' as const, host: '127.0.0.1', port: (proxy.address() as net.AddressInfo).port } };
      const trusted = await probe(good.port, viaProxy);
      expect(trusted.ok).toBe(true);
      // Made once, before the proxy answered: during the wait.
      expect(made).toHaveBeenCalledTimes(1);
      expect(answered).toHaveLength(1);
      expect(madeAt[0]).toBeLessThan(answered[0] as number);
      const untrusted = await probe(good.port, { ...viaProxy, ca: [] });
      expect(untrusted.failure?.code).toBe('tls_untrusted');
    } finally {
      made.mockRestore();
      proxy.close();
    }
  });
});

describe('tls probe: certificate problems', () => {
  it('tls_untrusted without --ca for the private CA: the CA is what makes it pass', async () => {
    const s = await server({ ...leaf });
    const outcome = await probe(s.port, { ca: [] });
    expect(outcome.failure).toMatchObject({ code: 'tls_untrusted', phase: 'tls' });
  });

  it('tls_untrusted for an unknown issuer, naming it, with the certificate recorded', async () => {
    const s = await server(await inspection.issue({ names: ['push.test'] }));
    const outcome = await probe(s.port);
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatchObject({ code: 'tls_untrusted', phase: 'tls' });
    expect(outcome.failure?.message).toContain('issued by "Corp Inspection CA"');
    expect(outcome.failure?.message).toContain('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(outcome.failure?.hint).toContain('--ca');
    expect(outcome.tls).toMatchObject({ issuer: 'Corp Inspection CA', subject: 'push.test', trusted: false });
    expectTimings(outcome, ['dnsMs', 'connectMs', 'tlsMs']);
  });

  it('tls_untrusted for an interception chain ending in an unknown root', async () => {
    const intercepted = await inspection.issue({ names: ['push.test'] });
    const s = await server({ key: intercepted.key, cert: intercepted.cert + inspection.cert });
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_untrusted' });
    expect(outcome.failure?.message).toContain('SELF_SIGNED_CERT_IN_CHAIN');
    expect(outcome.failure?.message).toContain('Corp Inspection CA');
  });

  it('tls_untrusted for a self-signed certificate', async () => {
    const s = await server(await selfSignedCertificate(['push.test']));
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_untrusted' });
    expect(outcome.failure?.message).toContain('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(outcome.tls).toMatchObject({ subject: 'push.test', issuer: 'push.test', trusted: false });
  });

  it('tls_expired, with a negative daysLeft', async () => {
    const expired = await ca.issue({
      names: ['push.test'],
      notBefore: new Date(Date.now() - 10 * DAY_MS),
      notAfter: new Date(Date.now() - 2 * DAY_MS),
    });
    const s = await server(expired);
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_expired', phase: 'tls' });
    expect(outcome.failure?.message).toContain('CERT_HAS_EXPIRED');
    expect(outcome.tls?.daysLeft).toBeLessThanOrEqual(-2);
  });

  it('tls_not_yet_valid', async () => {
    const future = await ca.issue({
      names: ['push.test'],
      notBefore: new Date(Date.now() + 2 * DAY_MS),
      notAfter: new Date(Date.now() + 10 * DAY_MS),
    });
    const s = await server(future);
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_not_yet_valid', phase: 'tls' });
    expect(outcome.failure?.message).toContain('CERT_NOT_YET_VALID');
  });

  it('tls_hostname_mismatch, naming what the certificate is for', async () => {
    const s = await server(await ca.issue({ names: ['portal.example'] }));
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_hostname_mismatch', phase: 'tls' });
    expect(outcome.failure?.message).toContain('certificate is for portal.example, not push.test');
    expect(outcome.tls).toMatchObject({ subject: 'portal.example', altNames: ['portal.example'], trusted: false });
  });

  it('tls_hostname_mismatch for an IP literal the certificate does not name', async () => {
    const s = await server(await ca.issue({ names: ['push.test'] }));
    const outcome = await probe(s.port, {}, '127.0.0.1');
    expect(outcome.failure).toMatchObject({ code: 'tls_hostname_mismatch' });
  });
});

describe("tls probe: a vendor's own CA (rule vendorIssuers)", () => {
  // Apple's courier servers present certificates from Apple's own CA, for courier.push.apple.com: devices trust
  // them, a machine's roots do not, and 1-courier… is not the name on them.
  let vendor: CertificateAuthority;
  beforeAll(async () => {
    vendor = await createCertificateAuthority('Apple Server Authentication CA', 30, { organization: 'Apple Inc.' });
  });
  const apple = (port: number) =>
    tlsProbe.run(testTarget('push.test', port, 'tls', { vendorIssuers: ['Apple Inc.'] }), ctx({ ca: [] }));

  it('passes a certificate from the named issuer that neither chains to a trusted root nor names the host, saying so', async () => {
    const s = await server(await vendor.issue({ names: ['courier.push.apple.com'] }));
    const outcome = await apple(s.port);
    expect(outcome.ok).toBe(true);
    expect(outcome.tls).toMatchObject({ issuer: 'Apple Server Authentication CA (Apple Inc.)', trusted: false });
    expect(outcome.note).toContain("Apple Inc.'s own CA");
  });

  it('still fails a certificate from any other issuer: interception is not excused', async () => {
    const s = await server(await inspection.issue({ names: ['push.test'] }));
    expect((await apple(s.port)).failure?.code).toBe('tls_untrusted');
  });

  it('still fails an expired certificate from the named issuer', async () => {
    const s = await server(
      await vendor.issue({ names: ['push.test'], notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }),
    );
    const outcome = await tlsProbe.run(
      testTarget('push.test', s.port, 'tls', { vendorIssuers: ['Apple Inc.'] }),
      ctx({ ca: [vendor.cert] }),
    );
    expect(outcome.failure?.code).toBe('tls_expired');
  });

  it('does nothing for a rule that names no vendor issuer', async () => {
    const s = await server(await vendor.issue({ names: ['push.test'] }));
    expect((await probe(s.port, { ca: [] })).failure?.code).toBe('tls_untrusted');
  });
});

describe('tls probe: --insecure', () => {
  it('lets an untrusted certificate pass, noting the problem, trusted=false', async () => {
    const s = await server(await inspection.issue({ names: ['push.test'] }));
    const outcome = await probe(s.port, { insecure: true });
    expect(outcome.ok).toBe(true);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.note).toMatch(/^certificate problem ignored \(--insecure\): .*Corp Inspection CA/);
    expect(outcome.tls).toMatchObject({ trusted: false, issuer: 'Corp Inspection CA' });
  });

  it('lets a name mismatch and an expired certificate pass, noting them', async () => {
    const wrong = await server(await ca.issue({ names: ['portal.example'] }));
    const mismatch = await probe(wrong.port, { insecure: true });
    expect(mismatch).toMatchObject({ ok: true, tls: { trusted: false } });
    expect(mismatch.note).toContain('not push.test');
    const expired = await server(
      await ca.issue({ names: ['push.test'], notBefore: new Date(Date.now() - 9 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }),
    );
    const stale = await probe(expired.port, { insecure: true });
    expect(stale).toMatchObject({ ok: true, tls: { trusted: false } });
    expect(stale.note).toContain('CERT_HAS_EXPIRED');
  });

  it('keeps trusted=true and no note for a good certificate', async () => {
    const s = await server({ ...leaf });
    const outcome = await probe(s.port, { insecure: true });
    expect(outcome).toMatchObject({ ok: true, tls: { trusted: true } });
    expect(outcome.note).toBeUndefined();
  });

  it('does not rescue a failed handshake', async () => {
    const s = await startPlainTextServer();
    servers.push(s);
    const outcome = await probe(s.port, { insecure: true });
    expect(outcome.failure?.code).toBe('tls_handshake_failed');
  });
});

describe('tls probe: handshake failures', () => {
  it('tls_handshake_failed against a plain-text server', async () => {
    const s = await startPlainTextServer();
    servers.push(s);
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed', phase: 'tls' });
    expect(outcome.failure?.message).toContain('something other than TLS');
    expect(outcome.failure?.message).toContain('ERR_SSL_WRONG_VERSION_NUMBER');
    expect(outcome.tls).toBeUndefined();
    expectTimings(outcome, ['dnsMs', 'connectMs', 'tlsMs']);
  });

  it('tls_handshake_failed when the server resets mid-handshake, saying so', async () => {
    const s = await startResetServer();
    servers.push(s);
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed', phase: 'tls' });
    expect(outcome.failure?.message).toContain('reset by peer during the TLS handshake');
  });

  it('tls_handshake_failed when the server closes mid-handshake', async () => {
    const s = await startTcpServer({ onConnection: (socket) => socket.once('data', () => socket.end()) });
    servers.push(s);
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed' });
    expect(outcome.failure?.message).toContain('closed the connection during the TLS handshake');
  });

  it('tls_handshake_failed with the alert when no protocol version is shared', async () => {
    const s = await server({ ...leaf, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed' });
    expect(outcome.failure?.message).toContain('TLS alert "protocol version"');
  });

  it('tls_handshake_failed after "timed out after N ms" against a silent server, bounded, socket closed', async () => {
    const s = await startTcpServer();
    servers.push(s);
    const start = Date.now();
    const outcome = await probe(s.port, { timeoutMs: 300 });
    const elapsed = Date.now() - start;
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed', phase: 'tls' });
    expect(outcome.failure?.message).toMatch(/timed out after \d+ ms/);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1000);
    expect(outcome.timings.totalMs).toBeLessThan(1000);
    await s.idle(1000);
  });

  it('stops promptly when aborted mid-handshake', async () => {
    const s = await startTcpServer();
    servers.push(s);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const start = Date.now();
    const outcome = await probe(s.port, { timeoutMs: 10_000, signal: controller.signal });
    expect(Date.now() - start).toBeLessThan(600);
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed' });
    expect(outcome.failure?.message).toContain('interrupted');
    await s.idle(1000);
  });
});

describe('tls probe: servers that require a client certificate', () => {
  const requireClientCert = { requestCert: true, rejectUnauthorized: true } as const;

  it('TLS 1.2: the handshake_failure alert after the server certificate proves the path open', async () => {
    const s = await server({ ...leaf, ...requireClientCert, ca: [clientCa.cert], maxVersion: 'TLSv1.2' });
    const outcome = await probe(s.port);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.ok).toBe(true);
    expect(outcome.note).toBe(CLIENT_CERTIFICATE_NOTE);
    expect(outcome.tls).toMatchObject({ protocol: 'TLSv1.2', subject: 'push.test', issuer: 'Pushcheck Test CA', trusted: true });
    expectTimings(outcome, ['dnsMs', 'connectMs', 'tlsMs']);
    await s.idle();
  });

  it('TLS 1.2: the server certificate is still verified', async () => {
    const intercepted = await inspection.issue({ names: ['push.test'] });
    const s = await server({ ...intercepted, ...requireClientCert, ca: [clientCa.cert], maxVersion: 'TLSv1.2' });
    const outcome = await probe(s.port);
    expect(outcome.failure).toMatchObject({ code: 'tls_untrusted' });
    expect(outcome.failure?.message).toContain('Corp Inspection CA');
    const insecure = await probe(s.port, { insecure: true });
    expect(insecure.ok).toBe(true);
    expect(insecure.note).toContain(CLIENT_CERTIFICATE_NOTE);
    expect(insecure.note).toContain('--insecure');
  });

  it('TLS 1.2: a handshake_failure before any certificate is still a failure', async () => {
    // No cipher in common: the server aborts at once, before sending a certificate.
    const s = await server({ ...leaf, maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-CAMELLIA256-SHA384' });
    const outcome = await probe(s.port);
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatchObject({ code: 'tls_handshake_failed' });
    expect(outcome.failure?.message).toContain('TLS alert "handshake failure"');
    expect(outcome.tls).toBeUndefined();
  });

  it('TLS 1.3: passes on the finished handshake; the later "certificate required" alert does not matter', async () => {
    const s = await server({ ...leaf, ...requireClientCert, ca: [clientCa.cert], minVersion: 'TLSv1.3' });
    const outcome = await probe(s.port);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.ok).toBe(true);
    expect(outcome.tls).toMatchObject({ protocol: 'TLSv1.3', trusted: true });
    await s.idle();
  });
});

describe('handshakeTls', () => {
  it('hands back an open TLS socket over the given TCP socket', async () => {
    const s = await server({ ...leaf, ALPNProtocols: ['http/1.1'] });
    const { socket } = await connectTcp('127.0.0.1', s.port, { signal: never, timeoutMs: 1000 });
    const session = await handshakeTls(socket, {
      host: 'push.test',
      ca: [ca.cert],
      insecure: false,
      now: () => new Date(),
      signal: never,
      timeoutMs: 1000,
      alpn: ['http/1.1'],
    });
    expect(session.clientCertificateRequired).toBe(false);
    expect(session.socket.encrypted).toBe(true);
    expect(session.socket.destroyed).toBe(false);
    expect(session.info.alpn).toBe('http/1.1');
    // The handshake asks Node for the short certificate only; afterwards the socket answers as Node's own does.
    expect(Object.hasOwn(session.socket, 'getPeerCertificate')).toBe(false);
    expect(session.socket.getPeerCertificate(true).issuerCertificate?.subject.CN).toBe('Pushcheck Test CA');
    session.socket.destroy();
    await s.idle();
  });

  it('rejects with a PhaseError carrying the certificate, and destroys both sockets', async () => {
    const s = await server(await inspection.issue({ names: ['push.test'] }));
    const { socket } = await connectTcp('127.0.0.1', s.port, { signal: never, timeoutMs: 1000 });
    const err = await handshakeTls(socket, {
      host: 'push.test',
      ca: [],
      insecure: false,
      now: () => new Date(),
      signal: never,
      timeoutMs: 1000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PhaseError);
    expect((err as PhaseError).failure.code).toBe('tls_untrusted');
    expect((err as PhaseError).recorded.tls?.issuer).toBe('Corp Inspection CA');
    expect(socket.destroyed).toBe(true);
    await s.idle();
  });
});
