/**
 * A rule's `tls:` requirement (minimum protocol, cipher and key size) against real loopback servers that offer
 * only AES-128, only AES-256, both, or only TLS 1.0 / 1.1, through the tls and the https probe.
 */
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority, type CertificatePem } from '../../src/harness/certs.js';
import { httpProbe } from '../../src/probes/http.js';
import { tlsProbe } from '../../src/probes/tls.js';
import {
  cipherStrength,
  parseCipherRequirement,
  parseTlsVersion,
  sessionShortfall,
} from '../../src/probes/tls-strength.js';
import { parseRuleSet } from '../../src/rules/load.js';
import type { CheckKind, TlsRequirement } from '../../src/types.js';
import { probeContext, testTarget } from '../helpers/probe-context.js';
import { ipv6Available, startHttpServer, startTlsServer, type TestServer } from '../helpers/servers.js';

const AES_256: TlsRequirement = { minVersion: 'TLSv1.2', ciphers: [{ algorithm: 'AES', bits: 256 }] };

let ca: CertificateAuthority;
let leaf: CertificatePem;
const servers: TestServer[] = [];

async function tlsServer(options: tls.TlsOptions & { host?: string }): Promise<TestServer> {
  const started = await startTlsServer({ ...leaf, ...options });
  servers.push(started);
  return started;
}

function probe(server: TestServer, requirement: TlsRequirement | undefined, check: CheckKind = 'tls') {
  const host = server.host === '::1' ? '::1' : 'push.test';
  const target = testTarget(host, server.port, check, requirement ? { tls: requirement } : {});
  const ctx = probeContext({ pins: [{ host: 'push.test', address: '127.0.0.1' }], ca: [ca.cert], timeoutMs: 3000 });
  return (check === 'tls' ? tlsProbe : httpProbe).run(target, ctx);
}

beforeAll(async () => {
  ca = await createCertificateAuthority('Pushcheck Test CA');
  leaf = await ca.issue({ names: ['push.test', '127.0.0.1', '::1'] });
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('cipher and version names', () => {
  it('reads the strength of a suite in TLS 1.3, TLS 1.2 (IANA) and OpenSSL spellings', () => {
    expect(cipherStrength('TLS_AES_256_GCM_SHA384')).toEqual({ algorithm: 'AES', bits: 256 });
    expect(cipherStrength('TLS_AES_128_GCM_SHA256')).toEqual({ algorithm: 'AES', bits: 128 });
    expect(cipherStrength('TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA')).toEqual({ algorithm: 'AES', bits: 256 });
    expect(cipherStrength('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256')).toEqual({ algorithm: 'AES', bits: 128 });
    expect(cipherStrength('ECDHE-RSA-AES256-GCM-SHA384')).toEqual({ algorithm: 'AES', bits: 256 });
    expect(cipherStrength('AES128-SHA')).toEqual({ algorithm: 'AES', bits: 128 });
    expect(cipherStrength('TLS_CHACHA20_POLY1305_SHA256')).toEqual({ algorithm: 'CHACHA20', bits: 256 });
    expect(cipherStrength('TLS_RSA_WITH_3DES_EDE_CBC_SHA')).toEqual({ algorithm: '3DES', bits: 112 });
    expect(cipherStrength('DES-CBC3-SHA')).toEqual({ algorithm: '3DES', bits: 112 });
    expect(cipherStrength('TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384')).toEqual({ algorithm: 'CAMELLIA', bits: 256 });
    expect(cipherStrength('unknown')).toBeUndefined();
  });

  it('parses the rule spellings of a cipher and a version', () => {
    expect(parseCipherRequirement('AES-256')).toEqual({ algorithm: 'AES', bits: 256 });
    expect(parseCipherRequirement('aes256')).toEqual({ algorithm: 'AES', bits: 256 });
    expect(parseCipherRequirement('CHACHA20')).toEqual({ algorithm: 'CHACHA20', bits: 256 });
    expect(parseCipherRequirement('3des')).toEqual({ algorithm: '3DES', bits: 112 });
    expect(parseCipherRequirement('AES')).toBeUndefined();
    expect(parseCipherRequirement('BLOWFISH-128')).toBeUndefined();
    expect(parseTlsVersion('1.2')).toBe('TLSv1.2');
    expect(parseTlsVersion('TLS1.3')).toBe('TLSv1.3');
    expect(parseTlsVersion('TLSv1.0')).toBe('TLSv1');
    expect(parseTlsVersion('SSLv3')).toBeUndefined();
  });

  it('names what was negotiated and what the rule asks', () => {
    expect(sessionShortfall('TLSv1.3', 'TLS_AES_256_GCM_SHA384', AES_256)).toBeUndefined();
    expect(sessionShortfall('TLSv1.2', 'TLS_AES_128_GCM_SHA256', AES_256)).toBe(
      'negotiated TLSv1.2 with TLS_AES_128_GCM_SHA256; cipher TLS_AES_128_GCM_SHA256 (AES-128) falls short of the rule, which asks for TLSv1.2 or later with AES-256',
    );
    expect(sessionShortfall('TLSv1.1', 'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA', AES_256)).toMatch(
      /^negotiated TLSv1\.1 with .*; protocol TLSv1\.1 and cipher .* \(AES-128\) fall short/,
    );
    expect(sessionShortfall('TLSv1.3', 'TLS_CHACHA20_POLY1305_SHA256', { ciphers: [{ algorithm: 'AES', bits: 256 }] })).toMatch(
      /cipher TLS_CHACHA20_POLY1305_SHA256 \(CHACHA20-256\) falls short of the rule, which asks for AES-256$/,
    );
  });

  it('a rule file takes tls: with the YAML number 1.2 and a single cipher', () => {
    const text = [
      'id: u',
      'title: U',
      'rules:',
      '  - id: a',
      '    url: https://example.com/',
      '    tls: { minVersion: 1.2, cipher: AES-256 }',
      '    purpose: P',
      '    impact: I',
      '    severity: warning',
    ].join('\n');
    expect(parseRuleSet(text, 'u.yaml').rules[0]?.tls).toEqual(AES_256);
  });
});

describe('tls_weak against loopback servers', () => {
  it('passes a TLS 1.3 server offering only AES-256', async () => {
    const s = await tlsServer({ minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' });
    const outcome = await probe(s, AES_256);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.tls).toMatchObject({ protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
  });

  it('fails a TLS 1.3 server offering only AES-128 as tls_weak, naming both sides', async () => {
    const s = await tlsServer({ minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' });
    const outcome = await probe(s, AES_256);
    expect(outcome.ok).toBe(false);
    expect(outcome.failure).toMatchObject({ code: 'tls_weak', phase: 'tls' });
    expect(outcome.failure?.message).toContain(
      'negotiated TLSv1.3 with TLS_AES_128_GCM_SHA256; cipher TLS_AES_128_GCM_SHA256 (AES-128) falls short of the rule, which asks for TLSv1.2 or later with AES-256',
    );
    // The session worked: what it was is in the report, and the tls phase is timed.
    expect(outcome.tls).toMatchObject({ protocol: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256', trusted: true });
    expect(outcome.timings.tlsMs).toBeGreaterThan(0);
    await s.idle();
  });

  it('fails a TLS 1.2 server offering only AES-128 (IANA spelling in the message)', async () => {
    const s = await tlsServer({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    const outcome = await probe(s, AES_256);
    expect(outcome.failure?.code).toBe('tls_weak');
    expect(outcome.failure?.message).toContain('negotiated TLSv1.2 with TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
  });

  it('passes a TLS 1.2 server offering both, although Node by default would pick AES-128 first', async () => {
    // A Node server given ciphers prefers its own order unless told otherwise.
    const s = await tlsServer({
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384',
      honorCipherOrder: false,
    });
    const outcome = await probe(s, AES_256);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.tls?.cipher).toBe('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
    // Without a requirement the same server gives Node's usual first choice: the reordering is what passed it.
    expect((await probe(s, undefined)).tls?.cipher).toBe('TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256');
  });

  it('fails a TLS 1.2 server that insists on its own order and chooses AES-128', async () => {
    const s = await tlsServer({
      maxVersion: 'TLSv1.2',
      ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384',
      honorCipherOrder: true,
    });
    expect((await probe(s, AES_256)).failure?.code).toBe('tls_weak');
  });

  // Node's OpenSSL 3 speaks TLS 1.0 and 1.1 only at security level 0; both sides lower it here.
  it.each(['TLSv1', 'TLSv1.1'] as const)('names a %s-only server as tls_weak, not a handshake failure', async (version) => {
    const s = await tlsServer({ minVersion: version, maxVersion: version, ciphers: 'DEFAULT@SECLEVEL=0' });
    const outcome = await probe(s, AES_256);
    expect(outcome.failure?.code).toBe('tls_weak');
    expect(outcome.failure?.message).toMatch(new RegExp(`negotiated ${version.replace('.', '\\.')} with TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA; protocol ${version.replace('.', '\\.')} falls short`));
    // A rule without a requirement keeps Node's floor (TLS 1.2): such a server is a handshake failure there.
    expect((await probe(s, undefined)).failure?.code).toBe('tls_handshake_failed');
  });

  it('a minVersion alone accepts any cipher, a cipher alone any version', async () => {
    const s = await tlsServer({ minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' });
    expect((await probe(s, { minVersion: 'TLSv1.3', ciphers: [] })).failure).toBeUndefined();
    expect((await probe(s, { ciphers: [{ algorithm: 'AES', bits: 128 }] })).failure).toBeUndefined();
  });

  it('an https check fails at the tls phase, before any request', async () => {
    let requests = 0;
    const s = await startHttpServer(
      (_req, res) => {
        requests += 1;
        res.end('ok');
      },
      { tls: { ...leaf, minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' } },
    );
    servers.push(s);
    const outcome = await probe(s, AES_256, 'https');
    expect(outcome.failure).toMatchObject({ code: 'tls_weak', phase: 'tls' });
    expect(outcome.http).toBeUndefined();
    expect(requests).toBe(0);
  });

  it('on IPv6 as on IPv4', async (context) => {
    if (!(await ipv6Available())) {
      console.log('skipped: this machine cannot listen on ::1');
      context.skip();
    }
    const weak = await tlsServer({ host: '::1', minVersion: 'TLSv1.3', ciphers: 'TLS_AES_128_GCM_SHA256' });
    const strong = await tlsServer({ host: '::1', minVersion: 'TLSv1.3', ciphers: 'TLS_AES_256_GCM_SHA384' });
    expect((await probe(weak, AES_256)).failure?.code).toBe('tls_weak');
    expect((await probe(strong, AES_256)).failure).toBeUndefined();
  });
});
