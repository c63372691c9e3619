/**
 * The TLS phase, and the tls probe built on it: does a TLS handshake with the host complete, and is the
 * certificate the real one? The certificate is verified here rather than by Node, so that a failing result still
 * records who issued it: "issued by FortiGate CA" tells an admin at once that the traffic is being intercepted.
 */
import { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import type tls from 'node:tls';
import { describe, type FieldPath, type Fields } from '../fields.js';
import { ipVersion } from '../ip-version.js';
import type { Failure, ProbeOutcome, Target, TlsInfo, TlsRequirement } from '../types.js';
import { CERTIFICATE_ERRORS, classifyError, errorCodes, failure, PhaseError, tlsAlertName } from './classify.js';
import { connectPhase } from './tcp.js';
import { prepareRunTrustingContext, runTrustingContext } from '../trust.js';
import { tlsModule } from '../v8-defaults.js';
import { checkServerIdentity } from './server-identity.js';
import { lookFirst, onAbort, roundMs, runProbe, since, stoppedFailure, type Budget } from './phases.js';
import {
  CIPHER_ALGORITHMS,
  cipherStrength,
  parseCipherRequirement,
  parseTlsVersion,
  sessionShortfall,
  TLS_VERSIONS,
} from './tls-strength.js';
import type { AbortSignalLike, KeptConnection, ProbeContext, ProbeKind } from './types.js';

/** This kind's check names, added to types.ts's CheckNames (see there). */
declare module '../types.js' {
  interface CheckNames {
    tls: true;
  }
}

export interface HandshakeOptions {
  /** The host name verified against the certificate and sent as SNI (not sent for an IP literal). */
  host: string;
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots. */
  ca: readonly string[];
  /** Certificate problems are recorded in a note instead of failing. */
  insecure: boolean;
  /** Clock for `daysLeft`. */
  now: () => Date;
  signal: AbortSignalLike;
  timeoutMs: number;
  /**
   * ALPN protocols offered; default none. A plain tls check offers none: a server with its own protocol (APNs'
   * courier on 443 speaks apns-security-v3) may refuse a client whose offer it does not share.
   */
  alpn?: string[];
  /** Issuer organisations whose certificates are accepted without a trusted chain or a matching name (Rule.vendorIssuers). */
  vendorIssuers?: readonly string[];
  /** The rule's session requirement: changes what is offered (see cipherListFor); judged by tlsPhase. */
  requirement?: TlsRequirement;
}

export interface TlsSession {
  /** The TLS socket; already closed when `clientCertificateRequired` is set. */
  socket: tls.TLSSocket;
  /** ms from ClientHello to the handshake's end, rounded to 0.1. */
  tlsMs: number;
  info: TlsInfo;
  /**
   * The server ended the handshake for want of a client certificate (as APNs does). That proves the path open;
   * nothing more can be done on this connection.
   */
  clientCertificateRequired: boolean;
  note?: string;
}

export const CLIENT_CERTIFICATE_NOTE = 'the server asked for a client certificate (as APNs does); the path is open';

/** Alerts a server sends when it wants a client certificate and got none (OpenSSL, Go, BoringSSL). */
const CLIENT_CERTIFICATE_ALERTS = new Set(['certificate required', 'handshake failure', 'bad certificate']);

/** Whether an error is one of the alerts above, whatever OpenSSL version spelled its code. */
export function isClientCertificateAlert(codes: string[], alerts: ReadonlySet<string> = CLIENT_CERTIFICATE_ALERTS): boolean {
  return codes.some((code) => alerts.has(tlsAlertName(code) ?? ''));
}

const DAY_MS = 86_400_000;
const TLS_KEYS = ['minVersion', 'cipher'] as const;
const ignore = (): void => undefined;

/**
 * The ciphers offered when a rule asks for a session of some strength: Node's usual list with the suites that meet
 * the requirement moved to the front (a server that honours the client's order, as OpenSSL's does by default, would
 * otherwise pick AES-128, Node's first TLS 1.2 choice), and security level 0 with TLS 1.0 and 1.1 allowed, so that
 * a server that speaks only those is named as weak rather than refused.
 */
function cipherListFor(requirement: TlsRequirement): string {
  // Through tlsModule: a rule with a requirement asks for node:tls here first, before any context is made.
  const tokens = tlsModule().DEFAULT_CIPHERS.split(':');
  const suites = tokens.filter((t) => /^[A-Z0-9_-]+$/.test(t) && t !== 'HIGH');
  const rest = tokens.filter((t) => !suites.includes(t));
  const meets = (suite: string): boolean => {
    const strength = cipherStrength(suite);
    return requirement.ciphers.some((c) => strength?.algorithm === c.algorithm && strength.bits >= c.bits);
  };
  return [...suites.filter(meets), ...suites.filter((t) => !meets(t)), ...rest, '@SECLEVEL=0'].join(':');
}

/** The run's secure context options for the rule's requirement. */
function contextOptionsFor(requirement: TlsRequirement | undefined): { ciphers?: string; minVersion?: tls.SecureVersion } {
  return requirement ? { ciphers: cipherListFor(requirement), minVersion: 'TLSv1' } : {};
}

/** The run's secure context for the rule's requirement: one per list of extra CAs and cipher list (see runTrustingContext). */
function secureContextFor(ca: readonly string[], requirement: TlsRequirement | undefined): tls.SecureContext {
  return runTrustingContext(ca, contextOptionsFor(requirement));
}

/**
 * The connect phase of a probe whose TLS phase follows: while the connection is under way, the secure context its
 * handshake will use is made (prepareRunTrustingContext), so that a run's first one costs no time after its connects.
 */
export function connectPhaseForTls(addresses: string[], target: Target, ctx: ProbeContext, outcome: ProbeOutcome, budget: Budget): Promise<Socket> {
  let waiting = true;
  const connected = connectPhase(addresses, target, ctx, outcome, budget).finally(() => {
    waiting = false;
  });
  prepareRunTrustingContext(ctx.ca, () => contextOptionsFor(target.rule.tls), () => waiting);
  return connected;
}

function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `CN (O)` of a certificate name, or whatever fields it has. */
function nameOf(name: tls.Certificate | undefined): string {
  if (!name) return '';
  const cn = firstValue(name.CN);
  const o = firstValue(name.O);
  if (cn && o && cn !== o) return `${cn} (${o})`;
  if (cn || o) return (cn ?? o) as string;
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}

function altNamesOf(cert: tls.PeerCertificate): string[] {
  if (!cert.subjectaltname) return [];
  return cert.subjectaltname.split(', ').map((entry) => entry.replace(/^(DNS|IP Address):/, ''));
}

interface Seen {
  cert: tls.PeerCertificate;
  protocol: string;
  cipher: string;
  alpn?: string;
}

function hasCertificate(cert: tls.PeerCertificate | null | undefined): cert is tls.PeerCertificate {
  return cert !== null && cert !== undefined && Object.keys(cert).length > 0 && cert.raw !== undefined;
}

/** The negotiated session (ALPN only once the handshake is done: Node sets alpnProtocol then). */
function sessionOf(socket: tls.TLSSocket): Omit<Seen, 'cert'> {
  const cipher = socket.getCipher();
  return {
    protocol: socket.getProtocol() ?? 'unknown',
    cipher: cipher?.standardName ?? cipher?.name ?? 'unknown',
    ...(typeof socket.alpnProtocol === 'string' && { alpn: socket.alpnProtocol }),
  };
}

/**
 * The server's own certificate (`known` when Node has already built it) and the session. Never the chain as
 * objects, and never getPeerX509Certificate: on a client, Node's takes the server's certificate out of the chain
 * OpenSSL keeps, so that every later getPeerCertificate misses it (nodejs/node#65579).
 */
function see(socket: tls.TLSSocket, known?: tls.PeerCertificate): Seen | undefined {
  const cert = hasCertificate(known) ? known : socket.getPeerCertificate();
  return hasCertificate(cert) ? { ...sessionOf(socket), cert } : undefined;
}

function infoOf(seen: Seen, now: Date, trusted: boolean): TlsInfo {
  const validTo = new Date(seen.cert.valid_to);
  return {
    protocol: seen.protocol,
    cipher: seen.cipher,
    ...(seen.alpn && { alpn: seen.alpn }),
    subject: nameOf(seen.cert.subject),
    issuer: nameOf(seen.cert.issuer),
    validTo: Number.isNaN(validTo.getTime()) ? seen.cert.valid_to : validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now.getTime()) / DAY_MS),
    altNames: altNamesOf(seen.cert),
    trusted,
  };
}

/**
 * OpenSSL's verification result before the handshake ends. Node publishes it only at 'secureConnect'
 * (`authorizationError`); when a server aborts the handshake after sending its certificate (TLS 1.2 and a
 * required client certificate), this internal, which `authorizationError` is read from, is the only way to it.
 * undefined when it cannot be read.
 */
function verifyCodeNow(socket: tls.TLSSocket): string | null | undefined {
  const handle = (socket as unknown as { _handle?: { verifyError?: () => unknown } })._handle;
  if (typeof handle?.verifyError !== 'function') return undefined;
  const err = handle.verifyError();
  if (!err) return null;
  return (err as { code?: unknown }).code?.toString() ?? String(err);
}

/** What is wrong with the certificate for `host`, given OpenSSL's verdict on the chain; undefined if nothing. */
function certificateProblem(chainCode: string | null, host: string, cert: tls.PeerCertificate): Failure | undefined {
  if (chainCode) {
    const code = CERTIFICATE_ERRORS[chainCode] ?? 'tls_untrusted';
    const detail =
      code === 'tls_expired'
        ? `expired ${new Date(cert.valid_to).toISOString()}, ${chainCode}`
        : code === 'tls_not_yet_valid'
          ? `valid from ${new Date(cert.valid_from).toISOString()}, ${chainCode}`
          : `issued by "${nameOf(cert.issuer)}", ${chainCode}`;
    return failure(code, 'tls', detail);
  }
  if (checkServerIdentity(host, cert)) {
    const names = altNamesOf(cert);
    const holder = names.length > 0 ? names.join(', ') : nameOf(cert.subject);
    return failure('tls_hostname_mismatch', 'tls', `certificate is for ${holder}, not ${host}`);
  }
  return undefined;
}

/**
 * The vendor organisation that issued the certificate, when the only problems are the chain (a private root) and
 * the name, and the rule names that organisation. An expired or not-yet-valid certificate is never excused.
 */
function vendorIssuer(problem: Failure, cert: tls.PeerCertificate, vendors: readonly string[]): string | undefined {
  if (problem.code !== 'tls_untrusted' && problem.code !== 'tls_hostname_mismatch') return undefined;
  const organisation = firstValue(cert.issuer?.O);
  return organisation !== undefined && vendors.includes(organisation) ? organisation : undefined;
}

/**
 * Runs a TLS handshake over a connected socket and verifies the certificate for `options.host` (chain against
 * Node's roots plus `options.ca`, then the name). Rejects with a PhaseError of phase `tls`, carrying the
 * certificate seen when there was one; both sockets are destroyed on every path but success.
 *
 * A reset or close by the peer mid-handshake is reported as tls_handshake_failed, not tcp_reset: TCP worked, the
 * TLS exchange was what broke. A server that ends the handshake for want of a client certificate resolves with
 * `clientCertificateRequired`: in TLS 1.3 its alert comes after the client's handshake is done, so the session
 * simply resolves on 'secureConnect' and the alert, arriving later, does not matter; in TLS 1.2 the alert ends
 * the handshake, and it counts as such only if the server's certificate had arrived before it.
 */
export function handshakeTls(socket: Socket, options: HandshakeOptions): Promise<TlsSession> {
  const { ca, insecure, now, signal, timeoutMs } = options;
  const host = options.host.replace(/^\[(.*)\]$/, '$1');
  const start = performance.now();
  if (signal.aborted) {
    socket.destroy();
    return Promise.reject(stoppedFailure('tls', 0, signal));
  }
  const context = secureContextFor(ca, options.requirement);
  /** The certificate Node built for checkServerIdentity (it does whenever the chain verified), kept to be read once. */
  let verifiedCert: tls.PeerCertificate | undefined;
  const tlsSocket = tlsModule().connect({
    socket,
    ...(ipVersion(host) === 0 && { servername: host }),
    ...(options.alpn && { ALPNProtocols: options.alpn }),
    secureContext: context,
    rejectUnauthorized: false,
    // The name is checked below, after the chain, so that both problems are reported the same way.
    checkServerIdentity: (_host, cert) => {
      verifiedCert = cert;
      return undefined;
    },
  });
  tlsSocket.on('error', ignore);
  // For checkServerIdentity Node asks for the certificate with its whole chain as objects: 0.85 ms a handshake on
  // Node 20 (0.23 ms on 22 and 24), against 0.16 ms for the server's certificate alone, which is all this probe
  // reads; 60 handshakes ending together wait on it in turn. So until the handshake ends, that question gets the
  // short answer; afterwards the socket is Node's own again (restorePeerCertificate).
  Object.assign(tlsSocket, { getPeerCertificate: () => tlsModule().TLSSocket.prototype.getPeerCertificate.call(tlsSocket, false) });
  const restorePeerCertificate = (): boolean => Reflect.deleteProperty(tlsSocket, 'getPeerCertificate');

  return new Promise<TlsSession>((resolve, reject) => {
    let seen: Seen | undefined;
    let seenVerifyCode: string | null | undefined;
    /** Set once we have made key material with the server's certificate in hand: its first flight is complete. */
    let serverFlightDone = false;
    const remember = (): void => {
      if (seen) return;
      seen = see(tlsSocket);
      if (seen) seenVerifyCode = verifyCodeNow(tlsSocket);
    };
    const onKeylog = (): void => {
      // In TLS 1.3 the key material that follows the server's certificate is made as the handshake ends, so
      // 'secureConnect' comes next and sees it all: nothing to keep here, and nothing to pay for 60 times over.
      if (tlsSocket.getProtocol() === 'TLSv1.3') {
        tlsSocket.off('keylog', onKeylog);
        return;
      }
      remember();
      serverFlightDone = seen !== undefined;
      if (serverFlightDone) tlsSocket.off('keylog', onKeylog);
    };
    /** The certificate seen before a failure, for the report (not vouched for: trusted=false). */
    const recorded = (): PhaseError['recorded'] => (seen ? { tls: infoOf(seen, now(), false) } : {});

    const cleanup = (): void => {
      restorePeerCertificate();
      disarm();
      stopListening();
      tlsSocket.off('keylog', onKeylog);
      tlsSocket.off('secureConnect', onSecure);
      tlsSocket.off('error', onError);
      tlsSocket.off('close', onClose);
    };
    const fail = (err: PhaseError): void => {
      cleanup();
      tlsSocket.destroy();
      socket.destroy();
      reject(err);
    };
    /** Resolves, or fails when the certificate has a problem and --insecure is off. */
    const finish = (chainCode: string | null | undefined, clientCertificateRequired: boolean): void => {
      const tlsMs = since(start);
      if (!seen) {
        fail(new PhaseError(failure('tls_handshake_failed', 'tls', 'no server certificate'), tlsMs));
        return;
      }
      const found =
        chainCode === undefined
          ? failure('tls_untrusted', 'tls', 'the certificate chain could not be verified')
          : certificateProblem(chainCode, host, seen.cert);
      const info = infoOf(seen, now(), found === undefined);
      const vendor = found && vendorIssuer(found, seen.cert, options.vendorIssuers ?? []);
      const problem = vendor ? undefined : found;
      if (problem && !insecure) {
        fail(new PhaseError(problem, tlsMs, { tls: info }));
        return;
      }
      cleanup();
      if (clientCertificateRequired) {
        tlsSocket.destroy();
        socket.destroy();
      }
      const notes = [
        ...(clientCertificateRequired ? [CLIENT_CERTIFICATE_NOTE] : []),
        ...(vendor ? [`certificate issued by ${vendor}'s own CA, as the rule expects (${found!.message})`] : []),
        ...(problem ? [`certificate problem ignored (--insecure): ${problem.message}`] : []),
      ];
      const note = notes.length > 0 ? notes.join('; ') : undefined;
      resolve({ socket: tlsSocket, tlsMs, info, clientCertificateRequired, ...(note && { note }) });
    };

    const onSecure = (): void => {
      seen = see(tlsSocket, verifiedCert ?? seen?.cert);
      finish(tlsSocket.authorized ? null : String(tlsSocket.authorizationError), false);
    };
    const onError = (err: unknown): void => {
      remember();
      const codes = errorCodes(err);
      // Only an alert that answers our own flight (sent after the server's certificate and certificate request)
      // can mean "no client certificate"; one before it is a negotiation failure.
      if (serverFlightDone && isClientCertificateAlert(codes)) {
        finish(seenVerifyCode, true);
        return;
      }
      fail(new PhaseError(classifyError(err, 'tls'), performance.now() - start, recorded()));
    };
    const onClose = (): void => {
      const closed = failure('tls_handshake_failed', 'tls', 'the server closed the connection during the TLS handshake');
      fail(new PhaseError(closed, performance.now() - start, recorded()));
    };
    const onStop = (): void => {
      remember();
      fail(stoppedFailure('tls', performance.now() - start, signal, recorded()));
    };
    const disarm = lookFirst(onStop, timeoutMs, signal);
    const stopListening = onAbort(signal, onStop);
    // 'keylog' fires as key material is made, after the server's certificate has been processed: the moment to
    // see it in a TLS 1.2 handshake that the server then aborts.
    tlsSocket.on('keylog', onKeylog);
    tlsSocket.once('secureConnect', onSecure);
    tlsSocket.once('error', onError);
    tlsSocket.once('close', onClose);
  });
}

/** The TLS phase of the tls and https probes: handshakes within the budget and records what it saw. */
export async function tlsPhase(
  socket: Socket,
  target: Target,
  ctx: ProbeContext,
  outcome: ProbeOutcome,
  budget: Budget,
  alpn?: string[],
): Promise<TlsSession> {
  const session = await handshakeTls(socket, {
    host: target.host,
    ...(alpn && { alpn }),
    vendorIssuers: target.rule.vendorIssuers,
    ...(target.rule.tls && { requirement: target.rule.tls }),
    ca: ctx.ca,
    insecure: ctx.insecure,
    now: ctx.now,
    signal: budget.stop,
    timeoutMs: budget.remaining(),
  });
  outcome.timings.tlsMs = roundMs(session.tlsMs);
  outcome.tls = session.info;
  if (session.note) outcome.note = session.note;
  const shortfall = target.rule.tls && sessionShortfall(session.info.protocol, session.info.cipher, target.rule.tls);
  if (shortfall) {
    session.socket.destroy();
    throw new PhaseError(failure('tls_weak', 'tls', shortfall), session.tlsMs, { tls: session.info });
  }
  return session;
}

/** The rule's `tls:` section: what the session must be beyond a completed handshake. */
function readTlsRequirement(f: Fields, raw: unknown, path: FieldPath): TlsRequirement {
  const t = f.mapping(raw, path, TLS_KEYS, []);
  const at = (...rest: Array<string | number>): FieldPath => [...path, ...rest];
  const requirement: TlsRequirement = {
    ciphers: f.list(t.cipher, at('cipher')).map((item, i) => {
      const text = typeof item === 'string' ? item : describe(item);
      const parsed = typeof item === 'string' ? parseCipherRequirement(item) : undefined;
      if (!parsed) {
        f.fail(at('cipher', i), `"${text}" is not a cipher and key size like AES-256; algorithms: ${CIPHER_ALGORITHMS.join(', ')}`);
      }
      return parsed;
    }),
  };
  if (t.minVersion !== undefined) {
    // YAML reads 1.2 as a number.
    const text = typeof t.minVersion === 'number' ? t.minVersion.toFixed(1) : f.string(t.minVersion, at('minVersion'));
    const version = parseTlsVersion(text);
    if (!version) f.fail(at('minVersion'), `"${text}" is not a TLS version; expected ${TLS_VERSIONS.join(', ')}`);
    requirement.minVersion = version;
  }
  if (requirement.minVersion === undefined && requirement.ciphers.length === 0) {
    f.fail(path, 'asks for nothing; give minVersion, cipher or both');
  }
  return requirement;
}

const CLOSE_NOTIFY = 'a TLS close_notify';

/**
 * A TLS connection kept for --hold. Its proof is our close_notify: TLS gives no ping, and any answer from the far end
 * (data, its own close_notify, a FIN) shows that the path still carries packets both ways.
 */
export function keptTls(socket: tls.TLSSocket): KeptConnection {
  return {
    socket,
    prove: () =>
      new Promise<string>((resolve) => {
        socket.once('data', () => resolve(`the far end answered ${CLOSE_NOTIFY} with data`));
        socket.once('end', () => resolve(`the far end answered ${CLOSE_NOTIFY} by closing its side (close_notify or FIN)`));
        socket.end();
      }),
    close: () => socket.destroy(),
  };
}

export const tlsProbe = {
  checks: [{ name: 'tls', plain: 'tcp', lastPhase: 'tls', speaks: { tls: true, http: false } }],
  // Every check that speaks TLS has a session to judge: https as well as tls.
  sections: [{ key: 'tls', read: readTlsRequirement, appliesTo: (check) => check.speaks.tls }],
  hold: { proof: CLOSE_NOTIFY },
  run: (target, ctx) =>
    runProbe(target, ctx, async (addresses, outcome, budget) => {
      const socket = await connectPhaseForTls(addresses, target, ctx, outcome, budget);
      const session = await tlsPhase(socket, target, ctx, outcome, budget);
      // A server that ended the handshake for want of a client certificate has left nothing to hold.
      if (ctx.hold && !session.clientCertificateRequired) ctx.hold.keep(keptTls(session.socket));
      else session.socket.destroy();
    }),
} satisfies ProbeKind;
