/**
 * What a TLS client of pushcheck trusts: Node's default store plus the CAs given with --ca (and a NODE_EXTRA_CA_CERTS
 * whose reading bin/pushcheck.js deferred). One place for every client (the probes, burst, the write check, the
 * credential check, and the harness's devices talking to an MDM server of the user's own), so that --ca and --mdm-ca
 * mean the same everywhere, and the deferred file is trusted wherever Node would have trusted it (not by a simulated
 * device: deviceTrustingContext). Shared (src/, not src/probes/) because the harness may import nothing of the checker.
 */
import type tls from 'node:tls';
import { deferredExtraCas } from './extra-ca-certs.js';
import { besideStatusLine } from './terminal.js';
import { tlsModule } from './v8-defaults.js';

/** Whether no context has been made yet in this process (see trustingContext). */
let firstContext = true;

/**
 * A secure context that trusts Node's default store plus `ca` (PEM), with `options` (ciphers, a client
 * certificate) as createSecureContext takes them. Where bin/pushcheck.js started Node without NODE_EXTRA_CA_CERTS
 * (src/extra-ca-certs.ts), the file's CAs are added too, so that they are trusted wherever Node would have trusted
 * them: the file is read at the first context, not at every start.
 *
 * The extra CAs are added to a default context, which shares the root store Node parses once per process, rather
 * than handed over with the ~150 bundled roots as `ca: [...tls.rootCertificates, ...ca]`: that parsed every root
 * again in JavaScript for each context (40 ms of CPU on Node 20, about 10 ms on 22 and 24). Adding to one context
 * leaves the shared store alone: Node copies it for that context first. The copy keeps a NODE_EXTRA_CA_CERTS that
 * Node read itself on Node 22 and later; Node 20's leaves it out (nodejs/node#32010). Run as a program, pushcheck
 * adds the file here on every version, so --ca no longer takes its place; started as `node bin/pushcheck.js` on
 * Node 20, it still does.
 */
export function trustingContext(ca: readonly string[], options: tls.SecureContextOptions = {}): tls.SecureContext {
  const tls = tlsModule();
  // The process's first context is where Node 22 and later read a NODE_EXTRA_CA_CERTS it was started with, and warn
  // from C++ about a file it cannot read: beside the spinner, not on its line.
  const context = firstContext ? besideStatusLine(() => tls.createSecureContext(options)) : tls.createSecureContext(options);
  firstContext = false;
  const extra = deferredExtraCas();
  const added = extra.length === 0 ? ca : [...extra, ...ca];
  if (added.length === 0) return context;
  const native = context.context as { addCACert?: (pem: string) => void };
  // addCACert is what createSecureContext itself calls for `ca`; should a Node lack it, take the slow way.
  if (typeof native.addCACert !== 'function') return tls.createSecureContext({ ...options, ca: [...tls.rootCertificates, ...added] });
  for (const pem of added) native.addCACert(pem);
  return context;
}

/**
 * What a simulated device trusts: Node's bundled roots (the public roots a phone ships with) and `ca` (the harness's
 * CA, and --mdm-ca: what a profile would have installed on it), never a NODE_EXTRA_CA_CERTS. That file is the trust of
 * the machine running the harness (a system bundle, an internal or a TLS-inspecting proxy's CA), which no phone
 * holds: a device trusting it would talk to an MDM server a real one refuses. Given as `ca` with the bundled roots,
 * so that Node leaves the file out on every version, whether it read the file itself (Node 22 and later kept it in
 * a context's copy of the default store, Node 20 did not) or bin/pushcheck.js deferred it. Parses the roots for this
 * context (about 30 ms on Node 20): one per harness.
 */
export function deviceTrustingContext(ca: readonly string[]): tls.SecureContext {
  const tls = tlsModule();
  return tls.createSecureContext({ ca: [...tls.rootCertificates, ...ca] });
}

const runContexts = new WeakMap<readonly string[], Map<string, tls.SecureContext>>();

type RunContextOptions = Pick<tls.SecureContextOptions, 'ciphers' | 'minVersion'>;

/**
 * The trustingContext of `ca` with `options`, made once and kept as long as that list is: a run's settings hold one
 * list (its --ca files), so each run, and each --ca, gets contexts of its own, shared by all its targets. Given no
 * context, tls.connect builds one for each connection (0.45 ms of CPU a handshake on Node 20 and 24, a third of the
 * whole). Sharing one resumes nothing: Node keeps no client sessions in it, so every handshake is verified in full.
 * Whether a bad chain fails the connection (--insecure) is the connection's rejectUnauthorized, not the context's.
 */
export function runTrustingContext(ca: readonly string[], options: RunContextOptions = {}): tls.SecureContext {
  let byOptions = runContexts.get(ca);
  if (!byOptions) {
    byOptions = new Map();
    runContexts.set(ca, byOptions);
  }
  const key = `${options.minVersion ?? ''}:${options.ciphers ?? ''}`;
  let context = byOptions.get(key);
  if (!context) {
    context = trustingContext(ca, options);
    byOptions.set(key, context);
  }
  return context;
}

/**
 * Makes runTrustingContext(ca, options()) at the loop's next turn, if `waiting()` still holds then: for a client whose
 * connection is under way, so that the first context of a run (Node's bundled roots and a deferred
 * NODE_EXTRA_CA_CERTS parsed, 40 ms of CPU on Node 20) is made while the run waits on the network, not after its
 * connects. Not sooner: it would delay the connects themselves. Not when nothing waits any more (the connection
 * failed, or was made before the loop came round, as on loopback): the handshake makes it then, if one is to come.
 * The options are asked for only then too (a rule's cipher list, and node:tls with it).
 */
export function prepareRunTrustingContext(ca: readonly string[], options: () => RunContextOptions, waiting: () => boolean): void {
  setImmediate(() => {
    if (!waiting()) return;
    try {
      runTrustingContext(ca, options());
    } catch {
      // Not here, where nothing would catch it: the handshake makes the context again and meets the error itself.
    }
  });
}
