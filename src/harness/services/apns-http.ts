/**
 * The mock APNs behind HTTP/2 over TLS: reads each request stream (headers, body, the TLS client
 * certificate), asks `ApnsService` and writes its answer as APNs does.
 */
import 'reflect-metadata';
import http2 from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from '@peculiar/x509';
import { listen, type Endpoint } from '../endpoints.js';
import { APNS_MAX_PAYLOAD_BYTES, type ApnsConnection, type ApnsEnvironment, type ApnsService, type ClientCertificate } from './apns.js';
import { APPLE_PUSH_OIDS } from './push-certificates.js';

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
  /**
   * A connection that carries no request for this long (wall clock) is closed with GOAWAY `{"reason":"IdleTimeout"}`;
   * PING frames do not count as requests. Default one hour: Apple publishes no figure.
   */
  idleTimeoutMs?: number;
  /**
   * The environment of a request whose host name is none of Apple's (127.0.0.1, localhost). Absent (the default),
   * such a request has said no environment, and no rule about environments applies to it.
   */
  defaultEnvironment?: ApnsEnvironment;
}

export const APNS_MAX_CONCURRENT_STREAMS = 1000;
export const APNS_IDLE_TIMEOUT_MS = 3_600_000;

/** Apple's provider host names and their environments (api.development… is the older name of the sandbox). */
const ENVIRONMENT_OF_HOST: Readonly<Record<string, ApnsEnvironment>> = {
  'api.push.apple.com': 'production',
  'api.sandbox.push.apple.com': 'development',
  'api.development.push.apple.com': 'development',
};

/**
 * The environment a request addressed: the TLS server name (the host the client connected to) if it is one of
 * Apple's, else the `:authority` host, else the listener's default (none unless set). One listener so serves both
 * environments, as a client pointed at Apple's names through /etc/hosts expects.
 */
export function environmentOf(
  servername: string | false | null | undefined,
  authority: string | undefined,
  fallback: ApnsEnvironment | undefined,
): ApnsEnvironment | undefined {
  const byName = servername ? ENVIRONMENT_OF_HOST[servername.toLowerCase()] : undefined;
  if (byName) return byName;
  const host = authority?.replace(/:\d+$/, '').toLowerCase();
  return (host && ENVIRONMENT_OF_HOST[host]) || fallback;
}

const MAX_BODY_BYTES = 64 * 1024;

/** Reads the topics (subject UID), validity and environments of a TLS peer's client certificate. */
export function clientCertificate(socket: TLSSocket): ClientCertificate | undefined {
  const peer = socket.getPeerCertificate();
  if (!peer || Object.keys(peer).length === 0) return undefined;
  const uid = (peer.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.UID;
  const topics = uid === undefined ? [] : Array.isArray(uid) ? uid : [uid];
  const environments: ApnsEnvironment[] = [];
  try {
    const cert = new X509Certificate(peer.raw);
    if (cert.getExtension(APPLE_PUSH_OIDS.development)) environments.push('development');
    if (cert.getExtension(APPLE_PUSH_OIDS.production)) environments.push('production');
  } catch {
    // A certificate the parser cannot read still has its topic; it is then taken for both environments.
  }
  return { topics, valid: socket.authorized, environments };
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
  const idleTimeoutMs = options.idleTimeoutMs ?? APNS_IDLE_TIMEOUT_MS;
  const defaultEnvironment = options.defaultEnvironment;
  // Per connection: what APNs binds to it (the first push's key), its client certificate (read once), and its use:
  // requests in flight and the last stream id (what a GOAWAY reports as processed).
  interface Connection {
    state: ApnsConnection;
    certificate: ClientCertificate | undefined;
    inFlight: number;
    lastStreamId: number;
    idle: () => void;
  }
  const connections = new WeakMap<http2.Http2Session, Connection>();
  const goaway = (s: http2.ServerHttp2Session, reason: string): void => {
    const lastStreamId = connections.get(s)?.lastStreamId ?? 0;
    if (!s.destroyed && !s.closed) s.goaway(http2.constants.NGHTTP2_NO_ERROR, lastStreamId, Buffer.from(JSON.stringify({ reason })));
  };
  server.on('session', (session) => {
    sessions.add(session);
    let timer: NodeJS.Timeout | undefined;
    const socket = session.socket as TLSSocket | undefined;
    const connection: Connection = { state: {}, certificate: socket ? clientCertificate(socket) : undefined, inFlight: 0, lastStreamId: 0, idle: () => undefined };
    // Idle means no request in flight and none started for idleTimeoutMs; the clock restarts as each request ends.
    connection.idle = (): void => {
      clearTimeout(timer);
      if (connection.inFlight > 0) return;
      timer = setTimeout(() => {
        // As APNs does with a connection left idle too long: GOAWAY with the reason, then close.
        goaway(session, 'IdleTimeout');
        session.close();
      }, idleTimeoutMs);
      timer.unref();
    };
    connection.idle();
    connections.set(session, connection);
    session.on('close', () => {
      clearTimeout(timer);
      sessions.delete(session);
    });
    session.on('error', () => undefined);
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
    stream.on('error', () => undefined);
    const connection = stream.session ? connections.get(stream.session) : undefined;
    if (connection) {
      connection.inFlight += 1;
      connection.lastStreamId = Math.max(connection.lastStreamId, stream.id ?? 0);
      connection.idle();
      stream.once('close', () => {
        connection.inFlight -= 1;
        connection.idle();
      });
    }
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
      const certificate = connection?.certificate;
      const environment = environmentOf(socket?.servername, headers[':authority'], defaultEnvironment);
      const body = size > MAX_BODY_BYTES ? 'x'.repeat(APNS_MAX_PAYLOAD_BYTES + 1) : Buffer.concat(chunks).toString('utf8');
      const res = service.handle({
        method: String(headers[':method'] ?? ''),
        path: String(headers[':path'] ?? ''),
        headers: flat,
        body,
        duplicateHeaders: duplicate,
        ...(environment ? { environment } : {}),
        ...(connection ? { connection: connection.state } : {}),
        ...(certificate ? { certificate } : {}),
      });
      if (stream.destroyed) return;
      if (res.status === 200) {
        stream.respond({ ':status': 200, 'apns-id': res.apnsId, ...(res.uniqueId ? { 'apns-unique-id': res.uniqueId } : {}) }, { endStream: true });
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
      goaway(s, 'Shutdown');
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
