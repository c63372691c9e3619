/**
 * The device channel: the long-lived TLS connection an iOS device keeps to APNs (the "courier", port 5223,
 * or 443 when 5223 is blocked, as on Wi-Fi). Over real sockets it speaks a tiny line protocol:
 *
 *   device → courier  HELLO <token>          courier → device  OK
 *   courier → device  PUSH <apns-id> <topic> <payload, base64>
 *   device → courier  PING                   courier → device  PONG
 *
 * The simulation skips the sockets and calls `ApnsService.connect` directly (see docs/harness.md).
 */
import tls from 'node:tls';
import type { ApnsService } from './apns.js';
import type { FcmService } from './fcm.js';
import type { Clock } from '../clock.js';
import type { FaultBoard } from '../faults.js';
import { listen, type Endpoint } from '../endpoints.js';

/** 5223 and 443 are the APNs courier ports; 5228 stands for FCM's device channel. */
export type CourierPort = 5223 | 443 | 5228;

/** A message as it travels to a device. */
export interface ChannelMessage {
  id: string;
  topic: string;
  payload: string;
}

/** Something devices hold a connection to and get woken through: APNs or FCM. */
export interface Channel {
  clock: Clock;
  connect(token: string, sink: (message: ChannelMessage) => void): () => void;
}

export function apnsChannel(service: ApnsService): Channel {
  return {
    clock: service.clock,
    connect: (token, sink) => service.connect(token, (n) => sink({ id: n.apnsId, topic: n.topic, payload: n.payload })),
  };
}

export function fcmChannel(service: FcmService): Channel {
  return {
    clock: service.clock,
    connect: (token, sink) => service.connect(token, (m) => sink({ id: m.id, topic: 'fcm', payload: JSON.stringify(m.data) })),
  };
}

export interface CourierServerOptions {
  channel: Channel;
  faults?: FaultBoard;
  host: string;
  /** Which courier port this listener stands for (decides whether block-5223 applies). */
  stands: CourierPort;
  port?: number;
  cert: string;
  key: string;
}

const MAX_LINE = 1024;

/** One courier listener (start one standing for 5223 and one standing for 443). */
export async function startCourierServer(options: CourierServerOptions): Promise<Endpoint & { connected(): number }> {
  const { channel, faults, stands } = options;
  const blocked = (): boolean => stands === 5223 && (faults?.isOn('block-5223', channel.clock.now()) ?? false);
  const open = new Set<tls.TLSSocket>();
  const server = tls.createServer({ cert: options.cert, key: options.key });
  // A blocked port behaves as a firewall that resets: the connection is dropped before the handshake.
  server.on('connection', (socket) => {
    if (blocked()) socket.destroy();
  });
  server.on('tlsClientError', () => undefined);
  server.on('secureConnection', (socket) => {
    socket.on('error', () => undefined);
    open.add(socket);
    let buffer = '';
    let disconnect: (() => void) | undefined;
    socket.on('close', () => {
      open.delete(socket);
      disconnect?.();
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_LINE * 4) {
        socket.destroy();
        return;
      }
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        const [verb, arg] = line.split(' ');
        if (verb === 'HELLO' && arg && !disconnect) {
          socket.write('OK\n');
          disconnect = channel.connect(arg, (m) => {
            if (!socket.destroyed) socket.write(`PUSH ${m.id} ${m.topic} ${Buffer.from(m.payload).toString('base64')}\n`);
          });
        } else if (verb === 'PING') {
          socket.write('PONG\n');
        } else {
          socket.end('ERR\n');
        }
      }
    });
  });
  const unsubscribe = faults?.onChange((name, value) => {
    if (name === 'block-5223' && value !== undefined && stands === 5223) for (const s of open) s.destroy();
  });
  const endpoint = await listen(server, options.host, options.port ?? 0, stands === 5228 ? 'fcm-device' : `courier${stands}`, () => unsubscribe?.());
  return { ...endpoint, connected: () => open.size };
}

export interface CourierClientOptions {
  host: string;
  port: number;
  ca: string;
  /** Name checked against the courier certificate. */
  servername?: string;
  token: string;
  onPush: (push: { apnsId: string; topic: string; payload: string }) => void;
  onClose?: () => void;
  timeoutMs?: number;
}

export interface CourierConnection {
  close(): void;
}

/** Connects a device to a courier listener; rejects when the port is blocked or the handshake fails. */
export function connectCourier(options: CourierClientOptions): Promise<CourierConnection> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      ca: options.ca,
      servername: options.servername ?? 'courier.push.apple.com',
    });
    let ready = false;
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('courier: timed out'));
    }, options.timeoutMs ?? 5000);
    timer.unref();
    socket.setEncoding('utf8');
    socket.on('secureConnect', () => socket.write(`HELLO ${options.token}\n`));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const [verb, a, b, c] = line.split(' ');
        if (verb === 'OK' && !ready) {
          ready = true;
          clearTimeout(timer);
          resolve({ close: () => socket.destroy() });
        } else if (verb === 'PUSH' && a && b) {
          options.onPush({ apnsId: a, topic: b, payload: Buffer.from(c ?? '', 'base64').toString('utf8') });
        }
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (!ready) reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (!ready) reject(new Error('courier: connection closed'));
      else options.onClose?.();
    });
  });
}
