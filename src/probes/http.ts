/**
 * The http probe (checks http and https): connect and, for https, handshake exactly as the tcp and tls probes do,
 * then hand that socket to undici for one request and hold the answer against the rule's expectations.
 */
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import type { Client } from 'undici';
import type { FieldPath, Fields } from '../fields.js';
import type { HttpExpectation, HttpInfo, ProbeOutcome, Rule, Target } from '../types.js';
import { classifyError, errorCodes, failure, PhaseError } from './classify.js';
import { bounded, runProbe, since } from './phases.js';
import { connectPhase } from './tcp.js';
import { CLIENT_CERTIFICATE_NOTE, connectPhaseForTls, isClientCertificateAlert, tlsPhase } from './tls.js';
import type { AbortSignalLike, ProbeKind, SectionContext, ServerAnswer } from './types.js';

/** This kind's check names, added to types.ts's CheckNames (see there). */
declare module '../types.js' {
  interface CheckNames {
    http: true;
    https: true;
  }
}

const NOT_CHECKED = 'no HTTP request is possible without one, so the HTTP expectations were not checked';

const HTTP_KEYS = ['method', 'path', 'status', 'contentType', 'maxBytes'] as const;
const METHODS: readonly HttpExpectation['method'][] = ['GET', 'HEAD'];

/** The rule's `http:` section: what the answer must be. A url rule's url gives the path. */
function readHttp(f: Fields, raw: unknown, path: FieldPath, { urlPath }: SectionContext): HttpExpectation {
  const h = f.mapping(raw, path, HTTP_KEYS, []);
  const at = (...rest: Array<string | number>): FieldPath => [...path, ...rest];
  const method = h.method === undefined ? 'GET' : f.string(h.method, at('method')).toUpperCase();
  if (!(METHODS as readonly string[]).includes(method)) {
    f.fail(at('method'), `"${String(h.method)}" is not a method pushcheck sends; expected GET or HEAD`);
  }
  if (urlPath !== undefined && h.path !== undefined) f.fail(at('path'), 'not allowed with url; the url gives the path');
  const httpPath = h.path === undefined ? (urlPath ?? '/') : f.string(h.path, at('path'));
  if (!httpPath.startsWith('/')) f.fail(at('path'), `"${httpPath}" must start with /`);
  const http: HttpExpectation = {
    method: method as HttpExpectation['method'],
    path: httpPath,
    status: f.list(h.status, at('status')).map((code, i) => f.integer(code, at('status', i), 100, 599, 'an HTTP status')),
  };
  if (h.contentType !== undefined) {
    const type = f.string(h.contentType, at('contentType')).toLowerCase();
    if (!/^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type)) {
      f.fail(at('contentType'), `"${type}" is not a media type like text/xml (leave out parameters such as charset)`);
    }
    http.contentType = type;
  }
  if (h.maxBytes !== undefined) http.maxBytes = f.integer(h.maxBytes, at('maxBytes'), 1, Number.MAX_SAFE_INTEGER, 'a byte count');
  return http;
}

/** The default port of each check's URL scheme. */
const DEFAULT_PORTS = { http: 80, https: 443 } as const;
type Scheme = keyof typeof DEFAULT_PORTS;

/** A check's `schemes`: the one scheme it is named for. */
function schemeOf(scheme: Scheme): Readonly<Record<string, number>> {
  return { [scheme]: DEFAULT_PORTS[scheme] };
}

/** `https://host:port/path` for a host rule's target; the scheme's default port is left out, an IPv6 host bracketed. */
function targetUrl(scheme: Scheme, host: string, port: number, rule: Rule): string {
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${hostPart}${port === DEFAULT_PORTS[scheme] ? '' : `:${port}`}${rule.http?.path ?? '/'}`;
}

/** Scheme, authority and path of the request. The socket is already connected: undici never resolves or dials. */
function requestTarget(target: Target): { origin: string; path: string } {
  const scheme = target.check === 'https' ? 'https' : 'http';
  const host = target.host.includes(':') && !target.host.startsWith('[') ? `[${target.host}]` : target.host;
  // new URL() leaves out the scheme's default port, and undici's Host header with it.
  const origin = new URL(`${scheme}://${host}:${target.port}`).origin;
  if (target.url) {
    const url = new URL(target.url);
    return { origin, path: `${url.pathname}${url.search}` };
  }
  return { origin, path: target.rule.http?.path ?? '/' };
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The media type of a Content-Type value: before any `;`, trimmed, lower case. */
function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase();
}

/** Holds a response against the rule's expectations; the failure message names what was expected and what came. */
function judge(
  info: HttpInfo,
  expect: HttpExpectation | undefined,
  method: string,
  counted: boolean,
): ProbeOutcome['failure'] {
  if (!expect) return undefined;
  if (expect.status.length > 0 && !expect.status.includes(info.status)) {
    return failure('http_status', 'http', `got ${info.status}, expected ${expect.status.join(' or ')}`);
  }
  if (expect.contentType !== undefined) {
    const got = info.contentType === undefined ? '' : mediaType(info.contentType);
    if (got !== mediaType(expect.contentType)) {
      return failure('http_content', 'http', `Content-Type ${got || '(none)'}, expected ${mediaType(expect.contentType)}`);
    }
  }
  if (expect.maxBytes !== undefined && info.bytes !== undefined && info.bytes > expect.maxBytes) {
    const how = counted ? `more than ${expect.maxBytes} bytes read` : `Content-Length ${info.bytes}`;
    return failure('http_content', 'http', `${method} body too large: ${how}, at most ${expect.maxBytes} expected`);
  }
  return undefined;
}

/** Counts body bytes up to `limit`, then stops reading. */
async function countBytes(body: AsyncIterable<Buffer>, limit: number): Promise<number> {
  let bytes = 0;
  for await (const chunk of body) {
    bytes += chunk.length;
    if (bytes >= limit) break;
  }
  return bytes;
}

/**
 * One request over `socket`, bounded by `timeoutMs` and `signal`. Sets `outcome.http` as soon as headers arrive,
 * and `outcome.failure` when the answer does not meet the expectations; throws a PhaseError when no answer came.
 * The client and the socket are closed on every path.
 */
async function exchange(
  target: Target,
  request: { origin: string; path: string },
  socket: net.Socket,
  outcome: ProbeOutcome,
  options: { signal: AbortSignalLike; timeoutMs: number },
): Promise<void> {
  const start = performance.now();
  const expect = target.rule.http;
  const method = expect?.method ?? 'GET';
  // The socket's own error, in case undici reports it without its cause (a TLS alert after the handshake).
  let socketError: unknown;
  socket.on('error', (err: unknown) => {
    socketError ??= err;
  });
  const controller = new AbortController();
  // Set when the exchange is over: a request still settling after a timeout must not touch the outcome.
  let over = false;
  let client: Client | undefined;

  const talk = async (): Promise<void> => {
    let handedOver = false;
    const backstopMs = Math.ceil(options.timeoutMs) + 1000;
    // Loaded on first use: reading rule files or rendering a report needs the registry but not an HTTP client.
    // `.default`: undici is CommonJS, and a bundled dynamic import gives only its module.exports as default.
    const { Client } = (await import('undici')).default;
    client = new Client(request.origin, {
      connect: (_opts, callback) => {
        // Asynchronously, as a real dial would be: undici does not dispatch a request from a synchronous callback.
        if (handedOver) process.nextTick(callback, new Error('pushcheck opens one connection per probe'), null);
        else process.nextTick(callback, null, socket);
        handedOver = true;
      },
      pipelining: 1,
      headersTimeout: backstopMs,
      bodyTimeout: backstopMs,
    });
    const response = await client.request({
      path: request.path,
      method,
      headers: { 'user-agent': 'pushcheck', accept: '*/*' },
      signal: controller.signal,
    });
    if (over) return;
    const contentType = header(response.headers, 'content-type');
    const length = header(response.headers, 'content-length');
    const info: HttpInfo = {
      status: response.statusCode,
      ...(contentType !== undefined && { contentType }),
      ...(length !== undefined && /^\d+$/.test(length) && { bytes: Number(length) }),
    };
    outcome.http = info;
    let counted = false;
    const maxBytes = expect?.maxBytes;
    const statusOk = !expect || expect.status.length === 0 || expect.status.includes(info.status);
    if (statusOk && maxBytes !== undefined && info.bytes === undefined && method === 'GET') {
      info.bytes = await countBytes(response.body, maxBytes + 1);
      counted = true;
    }
    const problem = judge(info, expect, method, counted);
    if (problem && !over) outcome.failure = problem;
  };

  try {
    await bounded(talk(), 'http', options.timeoutMs, options.signal, () => controller.abort());
  } catch (err) {
    if (err instanceof PhaseError) throw err;
    const codes = [...errorCodes(err), ...errorCodes(socketError)];
    // TLS 1.3: the server's "certificate required" alert comes after our handshake ended, so it shows up here.
    if (isClientCertificateAlert(codes, new Set(['certificate required']))) {
      outcome.note = [outcome.note, `${CLIENT_CERTIFICATE_NOTE}; ${NOT_CHECKED}`].filter(Boolean).join('; ');
      return;
    }
    // undici's "other side closed" hides what the socket saw (a reset, a TLS alert).
    const cause = errorCodes(err).includes('UND_ERR_SOCKET') && socketError ? socketError : err;
    throw new PhaseError(classifyError(cause, 'http'), performance.now() - start);
  } finally {
    over = true;
    outcome.timings.httpMs = since(start);
    await client?.destroy().catch(() => undefined);
    socket.destroy();
  }
}

/**
 * A stand-in answers with its web pages, over HTTP/1.1: offered before h2, so that this probe's h2-and-http/1.1 offer
 * settles on it; a client that offers no ALPN gets it too.
 */
const WEB_PAGES: ServerAnswer = { alpn: { protocol: 'http/1.1', required: false }, serve: (socket, site) => site.web(socket) };

export const httpProbe = {
  checks: [
    { name: 'http', plain: 'http', lastPhase: 'http', speaks: { tls: false, http: true }, answer: WEB_PAGES, schemes: schemeOf('http'), url: (host, port, rule) => targetUrl('http', host, port, rule) },
    { name: 'https', plain: 'http', lastPhase: 'http', speaks: { tls: true, http: true }, answer: WEB_PAGES, schemes: schemeOf('https'), url: (host, port, rule) => targetUrl('https', host, port, rule) },
  ],
  sections: [{ key: 'http', read: readHttp }],
  run: (target, ctx) =>
    runProbe(target, ctx, async (addresses, outcome, budget) => {
      const request = requestTarget(target);
      let socket = await (target.check === 'https' ? connectPhaseForTls : connectPhase)(addresses, target, ctx, outcome, budget);
      if (target.check === 'https') {
        const session = await tlsPhase(socket, target, ctx, outcome, budget, ['h2', 'http/1.1']);
        if (session.clientCertificateRequired) {
          outcome.note = `${outcome.note ?? CLIENT_CERTIFICATE_NOTE}; ${NOT_CHECKED}`;
          return;
        }
        socket = session.socket;
      }
      await exchange(target, request, socket, outcome, { signal: budget.stop, timeoutMs: budget.remaining() });
    }),
} satisfies ProbeKind;
