/**
 * The single source of truth for failure codes: what each one means and what a network admin can do about it,
 * and how a Node or undici error becomes one. The README's list of codes is rendered from {@link FAILURES}.
 */
import type { Failure, FailureCode, FailurePhase, Phase, ProbeOutcome } from '../types.js';

export interface FailureText {
  /** What happened, one line, for the person reading the report. */
  explanation: string;
  /** What to do about it, one line, for the admin of the network. */
  hint: string;
}

/**
 * What to ask for when idle push connections are forgotten (docs/networks.md, "Idle timeouts", gives the sources).
 * Firebase's network page asks NAT and stateful firewalls for "a 30 minute or larger timeout" on 5228-5230; Apple
 * documents no interval for the devices' channel (HT203609 names ports and ranges only), and Cisco's guidance for NAT
 * in front of iPhones reports 10-15 minutes between exchanges with APNs and asks for 30 minutes or more.
 */
const IDLE_TIMEOUT_HINT = 'ask for a TCP idle timeout of 30 min or more on 5223, 443 and 5228-5230 (FCM asks 30 min; APNs devices idle 10-15 min)';

export const FAILURES: Record<FailureCode, FailureText> = {
  dns_not_found: {
    explanation: 'the DNS server says the name does not exist',
    hint: 'make sure the resolver forwards this domain to public DNS and no DNS filter blocks it',
  },
  dns_no_address: {
    explanation: 'the name exists but has no A or AAAA record',
    hint: 'look for a DNS filter or split-horizon zone that strips the records; compare with --dns-server 1.1.1.1',
  },
  dns_timeout: {
    explanation: 'the DNS server did not answer in time',
    hint: 'make sure the resolver is reachable (UDP and TCP port 53) and can itself reach the internet',
  },
  dns_error: {
    explanation: 'name resolution failed',
    hint: 'check the resolver configuration of this machine, or try another server with --dns-server',
  },
  dns_outside_cidr: {
    explanation: "the name resolves outside the vendor's published ranges: a DNS filter or sinkhole is probably answering",
    hint: 'exempt the domain from DNS filtering, and compare with a public resolver (--dns-server 1.1.1.1)',
  },
  tcp_refused: {
    explanation: 'the connection was refused: a firewall rejected it, or nothing listens on the port',
    hint: 'allow outbound TCP to this host and port on the firewall',
  },
  tcp_timeout: {
    explanation: 'no answer to the connection attempt: a firewall is probably dropping the packets',
    hint: 'allow outbound TCP to this host and port',
  },
  tcp_unreachable: {
    explanation: 'no route to the host: this machine or a router reported it unreachable',
    hint: 'check the default route and any firewall rule that answers this range with ICMP unreachable',
  },
  tcp_reset: {
    explanation: 'the connection was reset: a firewall or proxy probably killed it after inspecting it',
    hint: 'exempt this host from application filtering and deep packet inspection',
  },
  tcp_error: {
    explanation: 'the TCP connection failed',
    hint: 'check the network connection and firewall of this machine',
  },
  tls_handshake_failed: {
    explanation: 'the TLS handshake did not complete: a proxy or firewall is probably interfering',
    hint: 'exempt this host from TLS inspection and protocol filtering; nothing but the service may answer on this port',
  },
  tls_untrusted: {
    explanation: 'the certificate is not from a trusted CA: a TLS inspection (interception) proxy is probably in the path',
    hint: 'exempt this host from TLS inspection (devices reject the proxy certificate); for an internal CA, pass it with --ca',
  },
  tls_expired: {
    explanation: "the certificate has expired: a proxy with a stale certificate answered, or this machine's clock is wrong",
    hint: "check this machine's clock; if a proxy presents the certificate, exempt the host from TLS inspection",
  },
  tls_not_yet_valid: {
    explanation: "the certificate is not valid yet: this machine's clock is probably wrong",
    hint: 'fix the system clock (NTP); if a proxy presents the certificate, exempt the host from TLS inspection',
  },
  tls_hostname_mismatch: {
    explanation: 'the certificate is for another name: a proxy, captive portal or wrong server answered',
    hint: 'check DNS and --resolve pins for this host, and exempt it from interception and captive portals',
  },
  tls_weak: {
    explanation: 'the TLS session works but is weaker than the rule asks: a TLS-inspecting proxy re-encrypting, or an old server setup',
    hint: 'exempt this host from TLS inspection; on your own server, enable the protocol version and cipher suites the rule names',
  },
  protocol_mismatch: {
    explanation: "something answered, but not in the service's own protocol: a transparent proxy, portal or load balancer is in the way",
    hint: 'exempt this host and port from transparent proxying, captive portals and protocol inspection',
  },
  http_status: {
    explanation: 'the server answered with an unexpected HTTP status',
    hint: 'check whether a proxy or web filter answered instead of the service, and exempt the host from it',
  },
  http_content: {
    explanation: 'the response is not what the service sends: a block page, proxy or captive portal probably answered',
    hint: 'exempt this host from web filtering and captive portal redirection',
  },
  http_timeout: {
    explanation: 'no HTTP response in time although the connection opened',
    hint: 'check proxies and inspection devices that hold or buffer requests, and let this host through untouched',
  },
  http_error: {
    explanation: 'the HTTP exchange failed',
    hint: 'check proxies and web filters between this machine and the host',
  },
  proxy_unreachable: {
    explanation: 'the proxy itself cannot be reached',
    hint: 'check the host and port of --proxy (or HTTPS_PROXY / ALL_PROXY), and that this machine may connect to the proxy',
  },
  proxy_auth: {
    explanation: 'the proxy wants credentials, or rejected the ones given',
    hint: 'give the user and password the proxy expects in --proxy or HTTPS_PROXY (scheme://user:pass@host:port)',
  },
  proxy_refused: {
    explanation: 'the proxy refused to open a tunnel to this host and port: its policy blocks them',
    hint: "allow this host and port in the proxy's policy (for an HTTP proxy, CONNECT to this port as well as to the domain)",
  },
  proxy_error: {
    explanation: 'the proxy failed without saying why, or did not answer as an HTTP CONNECT or SOCKS5 proxy does',
    hint: "check that --proxy names the right kind of proxy (http:// or socks5://) and port, then the proxy's log",
  },
  tls_expiring: {
    explanation: "the server's certificate expires soon; after that every client refuses the connection",
    hint: 'renew the certificate of this server (your own rule file names it) before it expires',
  },
  cert_expired: {
    explanation: 'the push certificate has expired: APNs refuses it and no push is sent',
    hint: 'renew it (Renew, not Create) with the Apple ID that made it, and install it on the push server',
  },
  cert_not_yet_valid: {
    explanation: "the certificate is not valid yet: it was installed early, or this machine's clock is wrong",
    hint: "check this machine's clock (NTP); keep the current certificate in place until the new one starts",
  },
  cert_expiring: {
    explanation: 'the push certificate expires soon; after that no push is sent',
    hint: 'renew it now (Renew, not Create, to keep its topic) with the Apple ID that made it',
  },
  cert_not_apns: {
    explanation: "not an Apple push certificate: it has no APNs topic (subject UID) or none of Apple's push extensions",
    hint: "use the certificate from Apple's Push Certificates Portal or developer account, not a TLS or CA certificate",
  },
  cert_key_mismatch: {
    explanation: 'the private key does not belong to the certificate: APNs would refuse the TLS connection',
    hint: 'pair the certificate with the key of the request it was made from (export both from one keychain item)',
  },
  cert_renewal_topic: {
    explanation: 'the new certificate has another topic than the old one',
    hint: 'renew the existing certificate (Renew, not Create) with the Apple ID that made the old one',
  },
  cert_renewal_older: {
    explanation: 'the new certificate does not expire later than the old one: it is not a renewal',
    hint: 'install the certificate Apple issued at the last renewal, not an older copy',
  },
  key_invalid: {
    explanation: 'not a usable APNs token key: it must be an EC P-256 key with a ten-character key id and team id',
    hint: "download the key (.p8) again from Apple's developer account, and take its key id and team id from there",
  },
  apns_rejected: {
    explanation: 'the push service (APNs) refused the credential',
    hint: "see APNs's reason: renew or replace the certificate or key, or fix the topic or environment it names",
  },
  local_overload: {
    explanation: 'this machine was too busy to judge: pushcheck stood still for much of the wait',
    hint: 'run it again when the machine is less busy, or with a longer --timeout',
  },
  burst_slo: {
    explanation: 'the server did not cope with the burst: clients failed, or the slowest were too slow for the SLO',
    hint: "raise the web server's connection and worker limits (or put a cache or CDN in front of the file), then burst again",
  },
  auth_failed: {
    explanation: 'the server refused the user name or password given for writing',
    hint: "give the IBI-aws Admin's user and password in --var messageWriteUrl, or the password in the rule's environment variable",
  },
  write_denied: {
    explanation: 'logged in, but the server refused to create or remove the file: that user may not write there',
    hint: "give the IBI-aws Admin's account write and delete rights on the message file's folder",
  },
  write_not_found: {
    explanation: "the message file's folder does not exist there",
    hint: 'check the path in --var messageWriteUrl: it must be the folder the message file is published in',
  },
  write_readback: {
    explanation: 'the file was written, but what came back is not what was written',
    hint: 'check for a proxy, filter or full disk between the Admin and the webserver',
  },
  write_error: {
    explanation: 'writing the message file failed',
    hint: 'check the address in --var messageWriteUrl and that this machine reaches the server',
  },
  idle_dropped: {
    explanation: 'the connection worked, but after being idle it no longer answered: a firewall or NAT forgot it',
    hint: IDLE_TIMEOUT_HINT,
  },
  idle_reset: {
    explanation: 'the connection worked, but after being idle it was reset: a firewall or NAT forgot it and refused its next packet',
    hint: IDLE_TIMEOUT_HINT,
  },
};

/** Builds a failure; `detail` (an errno, a TLS alert, an issuer…) is appended to the explanation. */
export function failure(code: FailureCode, phase: FailurePhase, detail?: string): Failure {
  const { explanation, hint } = FAILURES[code];
  return { code, phase, message: detail ? `${explanation} (${detail})` : explanation, hint };
}

/** Adds context (a DNS server, an address) to a failure's detail: `explanation (detail; context)`. */
export function withContext(f: Failure, context: string): Failure {
  const message = f.message.endsWith(')') ? `${f.message.slice(0, -1)}; ${context})` : `${f.message} (${context})`;
  return { ...f, message };
}

/** The detail of a failure without its explanation: `explanation (detail)` → `detail` (the message if none). */
export function detailOf(f: Failure): string {
  const prefix = `${FAILURES[f.code].explanation} (`;
  return f.message.startsWith(prefix) && f.message.endsWith(')') ? f.message.slice(prefix.length, -1) : f.message;
}

/**
 * A network problem met by a phase helper (connectTcp, handshakeTls…), already classified. Probes catch it and
 * put its failure in the outcome; any other exception is a pushcheck bug and propagates.
 */
export class PhaseError extends Error {
  override name = 'PhaseError';
  constructor(
    readonly failure: Failure,
    /** How long the phase ran before it failed, ms. */
    readonly durationMs: number,
    /** What the phase learnt before it failed (the address tried, the certificate seen). */
    readonly recorded: Pick<ProbeOutcome, 'address' | 'tls'> = {},
  ) {
    super(failure.message);
  }
}

/** Every error in the chain (`cause`, `AggregateError.errors`), breadth first, each once. */
function errorChain(err: unknown): object[] {
  const chain: object[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (e === null || typeof e !== 'object' || chain.includes(e)) continue;
    chain.push(e);
    const { cause, errors } = e as { cause?: unknown; errors?: unknown };
    queue.push(cause);
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return chain;
}

/** The `code` of an error and of every error behind it (`cause`, `AggregateError.errors`), outermost first. */
export function errorCodes(err: unknown): string[] {
  const codes = errorChain(err)
    .map((e) => (e as { code?: unknown }).code)
    .filter((c): c is string => typeof c === 'string');
  return [...new Set(codes)];
}

/** The message of the error carrying `code` (the outermost message when none does). */
function messageOf(err: unknown, code: string | undefined): string {
  const chain = errorChain(err);
  const withCode = chain.find((e) => code !== undefined && (e as { code?: unknown }).code === code) ?? chain[0];
  const message = (withCode as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : typeof err === 'string' ? err : '';
}

/** The failure code of a phase that ran out of time. */
export const TIMEOUT_CODES: Record<Phase, FailureCode> = {
  dns: 'dns_timeout',
  connect: 'tcp_timeout',
  tls: 'tls_handshake_failed',
  http: 'http_timeout',
};

const CONNECT_ERRNOS: Record<string, FailureCode> = {
  ECONNREFUSED: 'tcp_refused',
  ETIMEDOUT: 'tcp_timeout',
  ERR_SOCKET_CONNECTION_TIMEOUT: 'tcp_timeout',
  EHOSTUNREACH: 'tcp_unreachable',
  ENETUNREACH: 'tcp_unreachable',
  EHOSTDOWN: 'tcp_unreachable',
  ENETDOWN: 'tcp_unreachable',
  ECONNRESET: 'tcp_reset',
  EPIPE: 'tcp_reset',
};

const DNS_ERRNOS: Record<string, FailureCode> = {
  ENOTFOUND: 'dns_not_found',
  ENODATA: 'dns_no_address',
  ETIMEOUT: 'dns_timeout',
  ETIMEDOUT: 'dns_timeout',
};

/** What a DNS errno means, for the messages: c-ares and getaddrinfo codes. */
const DNS_DETAILS: Record<string, string> = {
  ENOTFOUND: 'NXDOMAIN',
  ENODATA: 'NODATA',
  EAI_AGAIN: 'temporary failure in name resolution: the resolver did not answer or answered SERVFAIL',
  ESERVFAIL: 'the DNS server answered SERVFAIL',
  EREFUSED: 'the DNS server refused the query',
  ECONNREFUSED: 'nothing answers on the DNS server port',
  EBADRESP: 'malformed answer',
};

const HTTP_TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'ETIMEDOUT']);

/** OpenSSL's verification results (Node's `authorizationError`) and what they mean here. */
export const CERTIFICATE_ERRORS: Record<string, FailureCode> = {
  CERT_HAS_EXPIRED: 'tls_expired',
  CERT_NOT_YET_VALID: 'tls_not_yet_valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls_hostname_mismatch',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls_untrusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'tls_untrusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls_untrusted',
  UNABLE_TO_GET_ISSUER_CERT: 'tls_untrusted',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'tls_untrusted',
  CERT_UNTRUSTED: 'tls_untrusted',
  CERT_REJECTED: 'tls_untrusted',
  CERT_SIGNATURE_FAILURE: 'tls_untrusted',
  CERT_REVOKED: 'tls_untrusted',
  INVALID_CA: 'tls_untrusted',
  INVALID_PURPOSE: 'tls_untrusted',
  PATH_LENGTH_EXCEEDED: 'tls_untrusted',
  UNABLE_TO_DECRYPT_CERT_SIGNATURE: 'tls_untrusted',
  UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: 'tls_untrusted',
  ERROR_IN_CERT_NOT_BEFORE_FIELD: 'tls_untrusted',
  ERROR_IN_CERT_NOT_AFTER_FIELD: 'tls_untrusted',
  HOSTNAME_MISMATCH: 'tls_hostname_mismatch',
};

/** Codes Node gives when the bytes that came back are not TLS at all. */
const NOT_TLS = new Set([
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'ERR_SSL_PACKET_LENGTH_TOO_LONG',
  'ERR_SSL_HTTP_REQUEST',
  'ERR_SSL_RECORD_LAYER_FAILURE',
  'ERR_SSL_UNKNOWN_PROTOCOL',
]);

/**
 * `ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE` → `handshake failure`; undefined when the code is not a TLS alert.
 * Node 20's OpenSSL says `SSLV3_ALERT_…`, Node 22 and 24 say `SSL/TLS_ALERT_…` for the same alert.
 */
export function tlsAlertName(code: string): string | undefined {
  const match = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13|SSL\/TLS)_ALERT_(.+)$/.exec(code);
  return match?.[1]?.toLowerCase().replace(/_/g, ' ');
}

/** What went wrong in a TLS handshake, for the message of a tls_handshake_failed. */
export function describeTlsError(err: unknown): string {
  const codes = errorCodes(err);
  const message = messageOf(err, codes[0]);
  for (const code of codes) {
    const alert = tlsAlertName(code);
    if (alert) {
      const number = /SSL alert number (\d+)/.exec(messageOf(err, code))?.[1];
      return `the server sent TLS alert "${alert}"${number ? ` (${number})` : ''}`;
    }
    if (NOT_TLS.has(code)) {
      return `the server answered with something other than TLS, such as plain text from a proxy or captive portal; ${code}`;
    }
  }
  // Node reports an orderly close during the handshake as ECONNRESET too, with a message of its own.
  if (codes.includes('ECONNRESET') || codes.includes('EPIPE')) {
    return /disconnected before secure TLS connection/.test(message)
      ? 'the server closed the connection during the TLS handshake'
      : 'reset by peer during the TLS handshake, ECONNRESET';
  }
  return withCode(firstLine(message), codes[0]);
}

function firstLine(text: string): string {
  const line = text.split('\n')[0]?.trim() ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

function withCode(message: string, code: string | undefined): string {
  if (!code || message.includes(code)) return message || code || 'unknown error';
  return message ? `${message}, ${code}` : code;
}

/**
 * Turns whatever a network call threw into a failure of `phase`. Walks `cause` and `AggregateError.errors`
 * (Node's happy eyeballs, undici's wrappers) to find the errno that says what really happened.
 */
export function classifyError(err: unknown, phase: Phase): Failure {
  const codes = errorCodes(err);
  const detail = (code: string | undefined): string => withCode(firstLine(messageOf(err, code)), code);
  // An AbortSignal.timeout() reason, or any other error that says it is a timeout by its name and has no errno.
  if (codes.length === 0 && errorChain(err).some((e) => (e as { name?: unknown }).name === 'TimeoutError')) {
    return failure(TIMEOUT_CODES[phase], phase, `timed out: ${firstLine(messageOf(err, undefined))}`);
  }

  if (phase === 'dns') {
    const code = codes.find((c) => c in DNS_ERRNOS || c in DNS_DETAILS);
    const text = code ? (DNS_DETAILS[code] ? `${DNS_DETAILS[code]}, ${code}` : code) : detail(codes[0]);
    return failure((code && DNS_ERRNOS[code]) || 'dns_error', phase, text);
  }

  if (phase === 'tls') {
    const cert = codes.find((c) => c in CERTIFICATE_ERRORS);
    if (cert) return failure(CERTIFICATE_ERRORS[cert] ?? 'tls_untrusted', phase, detail(cert));
    // A reset in the middle of the handshake is a handshake failure, not tcp_reset: the TCP path worked and
    // something (usually an inspection device that dislikes the ClientHello) broke the TLS exchange.
    return failure('tls_handshake_failed', phase, describeTlsError(err));
  }

  const errno = codes.find((c) => c in CONNECT_ERRNOS);
  if (phase === 'http') {
    const timeout = codes.find((c) => HTTP_TIMEOUTS.has(c));
    if (timeout) return failure('http_timeout', phase, detail(timeout));
    if (errno === 'ECONNRESET' || errno === 'EPIPE') return failure('tcp_reset', phase, detail(errno));
    if (errno) return failure(CONNECT_ERRNOS[errno] ?? 'http_error', phase, detail(errno));
    if (codes.some((c) => tlsAlertName(c))) return failure('http_error', phase, describeTlsError(err));
    if (codes.includes('UND_ERR_SOCKET')) {
      return failure('http_error', phase, 'the server closed the connection without a complete answer, UND_ERR_SOCKET');
    }
    return failure('http_error', phase, detail(codes[0]));
  }

  return failure((errno && CONNECT_ERRNOS[errno]) || 'tcp_error', phase, detail(errno ?? codes[0]));
}
