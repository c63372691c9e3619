/**
 * What a TLS client of pushcheck trusts: Node's default store plus the CAs given with --ca. One place for every
 * client (the probes, burst, the credential check), so that --ca means the same everywhere.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

let extraCaCerts: string | undefined;

/**
 * The file NODE_EXTRA_CA_CERTS names, read once, as Node does at start-up. Node 20 leaves it out of a context that
 * has CAs of its own added (22 and later keep it); added again, a certificate already there changes nothing.
 */
function nodeExtraCaCerts(): string {
  if (extraCaCerts === undefined) {
    const file = process.env.NODE_EXTRA_CA_CERTS;
    try {
      extraCaCerts = file ? readFileSync(file, 'utf8') : '';
    } catch {
      extraCaCerts = ''; // Node has already warned about it at start-up
    }
  }
  return extraCaCerts;
}

/**
 * A secure context that trusts Node's default store plus `ca` (PEM), with `options` (ciphers, a client
 * certificate) as createSecureContext takes them.
 *
 * The extra CAs are added to a default context, which shares the root store Node parses once per process, rather
 * than handed over with the ~150 bundled roots as `ca: [...tls.rootCertificates, ...ca]`: that parsed every root
 * again in JavaScript for each context (40 ms of CPU on Node 20, about 10 ms on 22 and 24). A default context also
 * holds what Node adds to its store (NODE_EXTRA_CA_CERTS, --use-openssl-ca, --use-system-ca), as a run without
 * --ca does. Adding to one context leaves the shared store alone: Node copies it for that context first.
 */
export function trustingContext(ca: readonly string[], options: tls.SecureContextOptions = {}): tls.SecureContext {
  const context = tls.createSecureContext(options);
  if (ca.length === 0) return context;
  const native = context.context as { addCACert?: (pem: string) => void };
  // addCACert is what createSecureContext itself calls for `ca`; should a Node lack it, take the slow way.
  if (typeof native.addCACert !== 'function') return tls.createSecureContext({ ...options, ca: [...tls.rootCertificates, ...ca] });
  for (const pem of [...ca, nodeExtraCaCerts()]) if (pem) native.addCACert(pem);
  return context;
}
