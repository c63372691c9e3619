/**
 * The mock APNs behind HTTP/2 over TLS: reads each request stream (headers, body, the TLS client
 * certificate), asks `ApnsService` and writes its answer as APNs does.
 */
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { listen, type Endpoint } from '../endpoints.js';
import { APNS_MAX_PAYLOAD_BYTES, type ApnsService, type ClientCertificate } from './apns.js';

export interface ApnsServerOptions {
  service: ApnsService;
  host: string;
  port?: number;
  /** Server certificate and key (PEM), and the CA that signs client certificates. */
  cert: string;
  key: string;
  ca: string;
  /** SETTINGS_MAX_CONCURRENT_STREAMS the server advertises; default as Apple's (1,000). */
  maxConcurrentStreams?: number;
}

export const APNS_MAX_CONCURRENT_STREAMS = 1000;

const MAX_BODY_BYTES = 64 * 1024;

/** Reads the topics (subject UID) and validity of a TLS peer's client certificate. */
export function clientCertificate(socket: TLSSocket): ClientCertificate | undefined {
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return undefined;
  const uid = (peer.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.UID;
  const topics = uid === undefined ? [] : Array.isArray(uid) ? uid : [uid];
  return { topics, valid: socket.authorized };
}

/** The provider API's listener; `trustClientCa` adds a CA whose client certificates it accepts from then on. */
export interface ApnsEndpoint extends Endpoint {
  trustClientCa(pem: string): void;
}

/** Starts the provider API: HTTP/2 over TLS, `POST /3/device/<token>`. */
export async function startApnsServer(options: ApnsServerOptions): Promise<ApnsEndpoint> {
  const { service } = options;
  const clientCas = [options.ca];
  const server = http2.createSecureServer({
    cert: options.cert,
    key: options.key,
    ca: clientCas,
    requestCert: true,
    // An untrusted or expired client certificate is answered with 403 BadCertificate, as APNs does,
    // rather than by failing the handshake.
    rejectUnauthorized: false,
    allowHTTP1: false,
    // Apple's servers advertise about 1,000 concurrent streams per connection (Node's default is 2^32-1).
    settings: { maxConcurrentStreams: options.maxConcurrentStreams ?? APNS_MAX_CONCURRENT_STREAMS },
  });
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('close', () => sessions.delete(session));
    session.on('error', () => undefined);
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    stream.on('end', () => {
      const flat: Record<string, string | undefined> = {};
      const seen = new Set<string>();
      let duplicate = false;
      const raw = rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = raw[i]!.toLowerCase();
        if (name.startsWith(':')) continue;
        if (seen.has(name)) duplicate = true;
        seen.add(name);
        flat[name] = raw[i + 1];
      }
      const socket = stream.session?.socket as TLSSocket | undefined;
      const certificate = socket ? clientCertificate(socket) : undefined;
      const body = size > MAX_BODY_BYTES ? 'x'.repeat(APNS_MAX_PAYLOAD_BYTES + 1) : Buffer.concat(chunks).toString('utf8');
      const res = service.handle({
        method: String(headers[':method'] ?? ''),
        path: String(headers[':path'] ?? ''),
        headers: flat,
        body,
        duplicateHeaders: duplicate,
        ...(certificate ? { certificate } : {}),
      });
      if (stream.destroyed) return;
      if (res.status === 200) {
        stream.respond({ ':status': 200, 'apns-id': res.apnsId }, { endStream: true });
        return;
      }
      const json = JSON.stringify(res.timestamp === undefined ? { reason: res.reason } : { reason: res.reason, timestamp: res.timestamp });
      stream.respond({ ':status': res.status, 'apns-id': res.apnsId, 'content-type': 'application/json; charset=utf-8' });
      stream.end(json);
    });
  });
  const endpoint = await listen(server, options.host, options.port ?? 0, 'apns', () => {
    service.shutdown();
    // As APNs does when it closes a connection: GOAWAY with the reason in its debug data, then close.
    for (const s of sessions) {
      if (!s.destroyed) s.goaway(http2.constants.NGHTTP2_NO_ERROR, 0, Buffer.from(JSON.stringify({ reason: 'Shutdown' })));
      s.destroy();
    }
  });
  return {
    ...endpoint,
    trustClientCa(pem: string) {
      if (!clientCas.includes(pem)) clientCas.push(pem);
      // New connections get the new list; open ones keep theirs, as a TLS server's would.
      server.setSecureContext({ cert: options.cert, key: options.key, ca: clientCas });
    },
  };
}
