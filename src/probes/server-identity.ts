/**
 * Whether a server's certificate is for the host we asked for: tls.checkServerIdentity, except for IP addresses.
 * Node 22 and 24 compare an IPv6 address with the certificate's as text, and OpenSSL 3 writes an IPv6 subject
 * alternative name in full (`0:0:0:0:0:0:0:1`), so `::1` never matched there: a false tls_hostname_mismatch on any
 * IPv6 literal. X509Certificate.checkIP compares addresses, on every Node version.
 */
import type tls from 'node:tls';
import { ipVersion } from '../ip-version.js';
import { cryptoModule, tlsModule } from '../v8-defaults.js';

export function checkServerIdentity(host: string, cert: tls.PeerCertificate): Error | undefined {
  if (ipVersion(host) === 0 || !cert.raw) return tlsModule().checkServerIdentity(host, cert);
  if (new (cryptoModule().X509Certificate)(cert.raw).checkIP(host) !== undefined) return undefined;
  return Object.assign(new Error(`IP: ${host} is not in the certificate's list: ${cert.subjectaltname ?? '(none)'}`), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    reason: `IP: ${host} is not in the certificate's list`,
    host,
  });
}
