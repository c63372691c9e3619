/**
 * Listening on loopback and closing again: every harness server goes through `listen`, which tracks open
 * sockets so that `close()` ends promptly even with devices still connected.
 */
import type { Server as NetServer, Socket } from 'node:net';
import tls from 'node:tls';
import type { CertificateAuthority, CertificatePem } from './certs.js';

/** A listening harness server. */
export interface Endpoint {
  name: string;
  host: string;
  port: number;
  /** Stops listening and drops every open connection. Safe to call twice. */
  close(): Promise<void>;
}

/** `host:port` pair as printed and as returned by `startHarness`. */
export interface HostPort {
  host: string;
  port: number;
}

/** The `code` of the error `assertLoopback` throws. */
export const NOT_LOOPBACK = 'ERR_HARNESS_NOT_LOOPBACK';

/** Only loopback addresses: the harness never listens anywhere a network could reach it. */
export function assertLoopback(host: string): void {
  if (!/^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/.test(host)) {
    throw Object.assign(new Error(`harness servers bind to loopback only, not ${host}`), { code: NOT_LOOPBACK });
  }
}

export async function listen(
  server: NetServer,
  host: string,
  port: number,
  name: string,
  beforeClose?: () => void,
): Promise<Endpoint> {
  assertLoopback(host);
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  server.on('secureConnection', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => undefined);
  const address = server.address();
  const actualPort = typeof address === 'object' && address ? address.port : port;
  let closing: Promise<void> | undefined;
  return {
    name,
    host,
    port: actualPort,
    close() {
      closing ??= new Promise<void>((resolve) => {
        beforeClose?.();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return closing;
    },
  };
}

export interface TlsEndpointOptions {
  /** DNS names (and IPs) the endpoint's certificate is issued for; ignored when `cert` is given. */
  names: string[];
  /** A certificate of the caller's choosing (e.g. expired, or for another name). */
  cert?: CertificatePem;
  ca: CertificateAuthority;
  host?: string;
  port?: number;
  name?: string;
  /** Called for each completed handshake; by default the connection is held open until the peer leaves. */
  onConnection?: (socket: tls.TLSSocket) => void;
  alpn?: string[];
}

/**
 * A TLS listener that completes handshakes and then holds the connection: enough for a TCP or TLS check to
 * pass, and what the demo uses to stand in for courier.push.apple.com and the like.
 */
export async function startTlsEndpoint(options: TlsEndpointOptions): Promise<Endpoint & { cert: CertificatePem }> {
  const cert = options.cert ?? (await options.ca.issue({ names: options.names }));
  const server = tls.createServer({
    cert: cert.cert,
    key: cert.key,
    ...(options.alpn ? { ALPNProtocols: options.alpn } : {}),
  });
  server.on('secureConnection', (socket) => {
    socket.on('error', () => undefined);
    if (options.onConnection) options.onConnection(socket);
    else socket.resume();
  });
  server.on('tlsClientError', () => undefined);
  const endpoint = await listen(server, options.host ?? '127.0.0.1', options.port ?? 0, options.name ?? options.names[0] ?? 'tls');
  return { ...endpoint, cert };
}
