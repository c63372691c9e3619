import { describe, expect, it } from 'vitest';
import {
  classifyError,
  describeTlsError,
  detailOf,
  errorCodes,
  failure,
  FAILURES,
  tlsAlertName,
  withContext,
} from '../../src/probes/classify.js';
import type { FailureCode } from '../../src/types.js';

/** Every member of FailureCode: the compiler fails this file when the union gains one that is not listed here. */
const ALL_CODES = {
  dns_not_found: true,
  dns_no_address: true,
  dns_timeout: true,
  dns_error: true,
  dns_outside_cidr: true,
  tcp_refused: true,
  tcp_timeout: true,
  tcp_unreachable: true,
  tcp_reset: true,
  tcp_error: true,
  tls_handshake_failed: true,
  tls_untrusted: true,
  tls_expired: true,
  tls_not_yet_valid: true,
  tls_hostname_mismatch: true,
  tls_weak: true,
  protocol_mismatch: true,
  http_status: true,
  http_content: true,
  http_timeout: true,
  http_error: true,
  proxy_unreachable: true,
  proxy_auth: true,
  proxy_refused: true,
  proxy_error: true,
  tls_expiring: true,
  cert_expired: true,
  cert_not_yet_valid: true,
  cert_expiring: true,
  cert_not_apns: true,
  cert_key_mismatch: true,
  cert_renewal_topic: true,
  cert_renewal_older: true,
  key_invalid: true,
  apns_rejected: true,
  local_overload: true,
  burst_slo: true,
  auth_failed: true,
  write_denied: true,
  write_not_found: true,
  write_readback: true,
  write_error: true,
  idle_dropped: true,
  idle_reset: true,
} satisfies Record<FailureCode, true>;

function errno(code: string, message = `connect ${code} 10.0.0.1:443`, extra: object = {}): Error {
  return Object.assign(new Error(message), { code, ...extra });
}

describe('FAILURES', () => {
  it('explains every code in one crisp line, with an actionable hint', () => {
    expect(Object.keys(FAILURES).sort()).toEqual(Object.keys(ALL_CODES).sort());
    for (const [code, { explanation, hint }] of Object.entries(FAILURES)) {
      expect(explanation, code).toMatch(/^[a-z]/);
      expect(hint, code).toMatch(/^[a-z]/);
      for (const text of [explanation, hint]) {
        expect(text, code).not.toContain('\n');
        expect(text, code).not.toMatch(/\.$/);
        expect(text.length, code).toBeLessThanOrEqual(120);
      }
    }
  });

  it('says what the brief asks of the codes admins meet most', () => {
    expect(FAILURES.tcp_timeout.explanation).toContain('firewall');
    expect(FAILURES.tcp_timeout.hint).toContain('allow outbound TCP');
    expect(FAILURES.tls_untrusted.explanation).toMatch(/inspection|interception/);
    expect(FAILURES.tls_untrusted.hint).toContain('--ca');
    expect(FAILURES.dns_outside_cidr.explanation).toMatch(/DNS filter|sinkhole/);
  });
});

describe('failure', () => {
  it('appends the detail to the explanation and carries the hint', () => {
    expect(failure('tcp_refused', 'connect', 'connect ECONNREFUSED 10.0.0.1:443')).toEqual({
      code: 'tcp_refused',
      phase: 'connect',
      message: `${FAILURES.tcp_refused.explanation} (connect ECONNREFUSED 10.0.0.1:443)`,
      hint: FAILURES.tcp_refused.hint,
    });
    expect(failure('http_status', 'http').message).toBe(FAILURES.http_status.explanation);
  });

  it('withContext adds to the detail', () => {
    expect(withContext(failure('dns_timeout', 'dns', 'ETIMEOUT'), 'server 10.0.0.53:53').message).toBe(
      `${FAILURES.dns_timeout.explanation} (ETIMEOUT; server 10.0.0.53:53)`,
    );
    expect(withContext(failure('dns_timeout', 'dns'), 'server 10.0.0.53:53').message).toBe(
      `${FAILURES.dns_timeout.explanation} (server 10.0.0.53:53)`,
    );
  });

  it('detailOf takes the detail back out (the message when there is none)', () => {
    expect(detailOf(failure('tcp_refused', 'connect', 'connect ECONNREFUSED 10.0.0.1:3128'))).toBe('connect ECONNREFUSED 10.0.0.1:3128');
    expect(detailOf(failure('tcp_refused', 'connect'))).toBe(FAILURES.tcp_refused.explanation);
  });
});

describe('errorCodes', () => {
  it('walks cause and AggregateError.errors, outermost first, each once', () => {
    const inner = errno('ECONNREFUSED');
    const aggregate = Object.assign(new AggregateError([errno('ETIMEDOUT'), inner], 'all failed'), { code: 'ETIMEDOUT' });
    const outer = new Error('fetch failed', { cause: aggregate });
    expect(errorCodes(outer)).toEqual(['ETIMEDOUT', 'ECONNREFUSED']);
    const cyclic: Error & { cause?: unknown } = errno('EPIPE');
    cyclic.cause = cyclic;
    expect(errorCodes(cyclic)).toEqual(['EPIPE']);
    expect(errorCodes('not an error')).toEqual([]);
  });
});

describe('classifyError', () => {
  it.each([
    ['ECONNREFUSED', 'tcp_refused'],
    ['ETIMEDOUT', 'tcp_timeout'],
    ['ERR_SOCKET_CONNECTION_TIMEOUT', 'tcp_timeout'],
    ['EHOSTUNREACH', 'tcp_unreachable'],
    ['ENETUNREACH', 'tcp_unreachable'],
    ['EHOSTDOWN', 'tcp_unreachable'],
    ['ENETDOWN', 'tcp_unreachable'],
    ['ECONNRESET', 'tcp_reset'],
    ['EPIPE', 'tcp_reset'],
    ['EACCES', 'tcp_error'],
  ])('connect: %s → %s, with the errno in the message', (code, expected) => {
    const result = classifyError(errno(code), 'connect');
    expect(result.code).toBe(expected);
    expect(result.phase).toBe('connect');
    expect(result.message).toContain(code);
    expect(result.hint).toBe(FAILURES[expected as FailureCode].hint);
  });

  it("finds the errno inside Node's happy-eyeballs AggregateError", () => {
    const err = new AggregateError([errno('ENETUNREACH', 'connect ENETUNREACH 2001:db8::1:443'), errno('EHOSTUNREACH')]);
    expect(classifyError(err, 'connect')).toMatchObject({ code: 'tcp_unreachable' });
    expect(classifyError(err, 'connect').message).toContain('ENETUNREACH 2001:db8::1:443');
  });

  it('treats a TimeoutError without errno as the timeout of the phase', () => {
    const reason = new DOMException('The operation was aborted due to timeout', 'TimeoutError');
    expect(classifyError(reason, 'connect').code).toBe('tcp_timeout');
    expect(classifyError(reason, 'dns').code).toBe('dns_timeout');
    expect(classifyError(reason, 'http').code).toBe('http_timeout');
    const tls = classifyError(new Error('wrapped', { cause: reason }), 'tls');
    expect(tls.code).toBe('tls_handshake_failed');
    expect(tls.message).toContain('timed out');
  });

  it("finds the errno in undici's cause chain", () => {
    const err = new TypeError('fetch failed', { cause: errno('ECONNREFUSED') });
    expect(classifyError(err, 'connect').code).toBe('tcp_refused');
  });

  it('http: a reset is tcp_reset in phase http, undici timeouts are http_timeout', () => {
    expect(classifyError(errno('ECONNRESET', 'read ECONNRESET'), 'http')).toMatchObject({ code: 'tcp_reset', phase: 'http' });
    expect(classifyError(errno('EPIPE', 'write EPIPE'), 'http')).toMatchObject({ code: 'tcp_reset', phase: 'http' });
    expect(classifyError(errno('UND_ERR_HEADERS_TIMEOUT', 'Headers Timeout Error'), 'http').code).toBe('http_timeout');
    expect(classifyError(errno('UND_ERR_BODY_TIMEOUT', 'Body Timeout Error'), 'http').code).toBe('http_timeout');
    expect(classifyError(errno('UND_ERR_SOCKET', 'other side closed'), 'http')).toMatchObject({ code: 'http_error' });
    expect(classifyError(new Error('weird'), 'http')).toMatchObject({ code: 'http_error' });
    expect(classifyError(new Error('weird'), 'http').message).toContain('weird');
  });

  it.each([
    ['ENOTFOUND', 'dns_not_found'],
    ['ENODATA', 'dns_no_address'],
    ['ETIMEOUT', 'dns_timeout'],
    ['ESERVFAIL', 'dns_error'],
    ['ECONNREFUSED', 'dns_error'],
    ['EAI_AGAIN', 'dns_error'],
  ])('dns: %s → %s', (code, expected) => {
    expect(classifyError(errno(code, `queryA ${code} push.test`), 'dns')).toMatchObject({ code: expected, phase: 'dns' });
  });

  it('dns: EAI_AGAIN is not called a timeout, and says what it may be', () => {
    const result = classifyError(errno('EAI_AGAIN', 'getaddrinfo EAI_AGAIN push.test'), 'dns');
    expect(result.message).toContain('temporary failure');
    expect(result.message).toContain('SERVFAIL');
  });

  it.each([
    ['CERT_HAS_EXPIRED', 'tls_expired'],
    ['CERT_NOT_YET_VALID', 'tls_not_yet_valid'],
    ['ERR_TLS_CERT_ALTNAME_INVALID', 'tls_hostname_mismatch'],
    ['DEPTH_ZERO_SELF_SIGNED_CERT', 'tls_untrusted'],
    ['SELF_SIGNED_CERT_IN_CHAIN', 'tls_untrusted'],
    ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'tls_untrusted'],
    ['UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'tls_untrusted'],
    ['ERR_SSL_WRONG_VERSION_NUMBER', 'tls_handshake_failed'],
    ['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE', 'tls_handshake_failed'],
    ['ECONNRESET', 'tls_handshake_failed'],
  ])('tls: %s → %s', (code, expected) => {
    expect(classifyError(errno(code, `tls error ${code}`), 'tls')).toMatchObject({ code: expected, phase: 'tls' });
  });

  it('tls: says "reset by peer during the TLS handshake" for a reset, and tells an orderly close apart', () => {
    expect(classifyError(errno('ECONNRESET', 'read ECONNRESET', { syscall: 'read' }), 'tls').message).toContain(
      'reset by peer during the TLS handshake',
    );
    const closed = errno('ECONNRESET', 'Client network socket disconnected before secure TLS connection was established');
    expect(classifyError(closed, 'tls').message).toContain('closed the connection during the TLS handshake');
  });
});

describe('TLS alerts', () => {
  it('names alerts from their Node code, with the alert number from the OpenSSL message', () => {
    expect(tlsAlertName('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE')).toBe('handshake failure');
    expect(tlsAlertName('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')).toBe('certificate required');
    expect(tlsAlertName('ERR_SSL_WRONG_VERSION_NUMBER')).toBeUndefined();
    const err = errno(
      'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION',
      'C0:error:0A00042E:SSL routines:ssl3_read_bytes:tlsv1 alert protocol version:rec_layer_s3.c:1601:SSL alert number 70\n',
    );
    expect(describeTlsError(err)).toBe('the server sent TLS alert "protocol version" (70)');
  });

  it('calls a non-TLS answer what it probably is', () => {
    const err = errno('ERR_SSL_WRONG_VERSION_NUMBER', 'wrong version number');
    expect(describeTlsError(err)).toMatch(/something other than TLS.*plain text/);
  });
});
