/** The certificate-name check on IP addresses, which Node 22 and 24 get wrong for IPv6 written short (::1). */
import { describe, expect, it } from 'vitest';
import { X509Certificate } from 'node:crypto';
import type tls from 'node:tls';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { checkServerIdentity } from '../../src/probes/server-identity.js';

async function peer(names: string[]): Promise<tls.PeerCertificate> {
  const ca = await createCertificateAuthority('Identity Test CA');
  const x = new X509Certificate((await ca.issue({ names })).cert);
  return { subject: {}, subjectaltname: x.subjectAltName, raw: x.raw } as unknown as tls.PeerCertificate;
}

describe('checkServerIdentity', () => {
  it('matches an IPv6 address however it is written, and only the addresses the certificate names', async () => {
    const cert = await peer(['push.test', '127.0.0.1', '::1']);
    // OpenSSL 3 writes the SAN in full; the host is written short.
    expect(cert.subjectaltname).toContain('IP Address:0:0:0:0:0:0:0:1');
    expect(checkServerIdentity('::1', cert)).toBeUndefined();
    expect(checkServerIdentity('0:0:0:0:0:0:0:1', cert)).toBeUndefined();
    expect(checkServerIdentity('127.0.0.1', cert)).toBeUndefined();
    expect(checkServerIdentity('::2', cert)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    expect(checkServerIdentity('127.0.0.2', cert)).toMatchObject({ code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  });

  it('leaves names to Node', async () => {
    const cert = await peer(['push.test']);
    expect(checkServerIdentity('push.test', cert)).toBeUndefined();
    expect(checkServerIdentity('other.test', cert)).toBeInstanceOf(Error);
  });
});
