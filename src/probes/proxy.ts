/**
 * --proxy on the wire: the handshakes that open a tunnel through a proxy (HTTP CONNECT; SOCKS5, with a user
 * name and password when given). The CLI parses --proxy (cli/proxy-option.ts); tcp.ts reaches the proxy and
 * calls openTunnel; TLS and HTTP then run over the tunnel as they do over a direct connection. The handshakes are written here on node:net rather than taken from a
 * package: each is a few bytes, and owning them keeps the proxy's own answer (its status line, its SOCKS reply
 * code) for the failure message.
 */
import { Socket, isIPv4, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { maskSentCredentials } from '../secrets.js';
import type { FailureCode } from '../types.js';
import { errorCodes, failure, PhaseError } from './classify.js';
import { isInterrupted, lookFirst, onAbort, stoppedFailure } from './phases.js';
import type { Proxy, AbortSignalLike } from './types.js';

/** RFC 1929 gives the user name and the password one length byte each. */
export const SOCKS_MAX_CREDENTIAL_BYTES = 255;
const MAX_HEAD_BYTES = 16 * 1024;

/** `host:port`, an IPv6 address in brackets. */
export function authority(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/** How messages name the proxy: `HTTP proxy 10.0.0.1:3128`, never with credentials. */
export function proxyName(proxy: Proxy): string {
  return `${proxy.protocol === 'http' ? 'HTTP' : 'SOCKS5'} proxy ${authority(proxy.host, proxy.port)}`;
}

/** One tunnel being opened: the socket to the proxy, what was asked of it, and the time it has. */
/** Ports of devices' own push channels (APNs 5223, FCM 5228-5230), which devices open directly, never via a proxy. */
export const DEVICE_CHANNEL_PORTS: ReadonlySet<number> = new Set([5223, 5228, 5229, 5230]);

/** The hint of a refused CONNECT to a device channel port. */
export function deviceChannelHint(port: number): string {
  return (
    `devices open port ${port} directly, not through an HTTP proxy (most proxies allow CONNECT to 443 only): ` +
    `open a direct outbound path for TCP ${port} to this host; until then devices use the 443 fallback, ` +
    'which is slower to reconnect (and for Apple devices works on Wi-Fi only)'
  );
}

interface Handshake {
  socket: Socket;
  proxy: Proxy;
  /** `CONNECT push.apple.com:443`, for messages. */
  request: string;
  /** The destination port asked for. */
  port: number;
  signal: AbortSignalLike;
  start: number;
  timeoutMs: number;
}

/** A failure of the proxy itself, or one it reported about the destination (then the message says so). */
function proxyFailure(h: Handshake, code: FailureCode, text: string): PhaseError {
  const who = proxyName(h.proxy);
  const detail = code.startsWith('proxy_') ? `${who} ${text}` : `reported by the ${who}, which ${text}`;
  const found = failure(code, 'connect', detail);
  // Devices never send their push channel through a proxy: a proxy that refuses it says nothing about devices,
  // and the admin needs to hear what devices need instead.
  if (code === 'proxy_refused' && DEVICE_CHANNEL_PORTS.has(h.port)) found.hint = deviceChannelHint(h.port);
  return new PhaseError(found, performance.now() - h.start);
}

/**
 * Bytes a proxy sent, fit for a one-line message. A proxy may echo what it was sent (the Proxy-Authorization header,
 * decoded or not): the credentials are masked first, in every form they were sent, before anything is cut.
 */
function printable(h: Handshake, bytes: Buffer | string, max = 120): string {
  const raw = typeof bytes === 'string' ? bytes : bytes.toString('latin1');
  const text = maskSentCredentials(raw, h.proxy.user, h.proxy.password).replace(/[^\x20-\x7e]/g, '?');
  return text.length > max ? `${text.slice(0, max - 3)}...` : text;
}

/**
 * Reads the proxy's answer to `what`: `measure` gives the answer's length once enough bytes are in (undefined:
 * not yet), or throws when they cannot be one. Bytes past it stay in the socket for TLS or HTTP. Rejects when the
 * proxy closes or fails first, or stays silent past the time left; silence is `timeoutCode`.
 */
function readAnswer(
  h: Handshake,
  what: string,
  measure: (bytes: Buffer) => number | undefined,
  timeoutCode: FailureCode,
): Promise<Buffer> {
  const { socket, signal } = h;
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    let stopListening = (): void => undefined;
    const settle = (err: unknown, length = 0): void => {
      disarm();
      stopListening();
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      // Paused, not flowing: no byte of the destination's may be dropped before TLS or HTTP takes the socket.
      socket.pause();
      if (err !== undefined) {
        reject(err);
        return;
      }
      if (bytes.length > length) socket.unshift(bytes.subarray(length));
      resolve(bytes.subarray(0, length));
    };
    const onData = (chunk: Buffer): void => {
      bytes = Buffer.concat([bytes, chunk]);
      try {
        const length = measure(bytes);
        if (length !== undefined && bytes.length >= length) settle(undefined, length);
      } catch (err) {
        settle(err);
      }
    };
    const onError = (err: unknown): void =>
      settle(proxyFailure(h, 'proxy_error', `failed without answering ${what} (${errorCodes(err)[0] ?? 'socket error'})`));
    const onEnd = (): void => settle(proxyFailure(h, 'proxy_error', `closed the connection without answering ${what}`));
    const onStop = (): void => {
      const waitedMs = performance.now() - h.start;
      if (isInterrupted(signal)) settle(stoppedFailure('connect', waitedMs, signal));
      else {
        const detail = `timed out after ${Math.round(waitedMs)} ms: the ${proxyName(h.proxy)} gave no answer to ${what}`;
        settle(new PhaseError(failure(timeoutCode, 'connect', detail), waitedMs));
      }
    };
    const disarm = lookFirst(onStop, h.start + h.timeoutMs - performance.now(), signal);
    if (signal.aborted) {
      onStop();
      return;
    }
    stopListening = onAbort(signal, onStop);
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}

/** What a CONNECT status means when it is not 2xx; 5xx do not say why the proxy could not connect. */
function connectStatusCode(status: number): FailureCode {
  if (status === 401 || status === 407) return 'proxy_auth'; // tinyproxy answers a wrong password with 401
  if (status === 504) return 'tcp_timeout';
  if (status === 500 || status === 502 || status === 503) return 'tcp_refused';
  return status >= 500 ? 'proxy_error' : 'proxy_refused';
}

async function httpConnect(h: Handshake, destination: string, port: number): Promise<void> {
  const target = authority(destination, port);
  const lines = [`CONNECT ${target} HTTP/1.1`, `Host: ${target}`, 'User-Agent: pushcheck'];
  const { user, password } = h.proxy;
  if (user !== undefined) lines.push(`Proxy-Authorization: Basic ${Buffer.from(`${user}:${password ?? ''}`).toString('base64')}`);
  h.socket.write(`${lines.join('\r\n')}\r\n\r\n`);
  const head = await readAnswer(
    h,
    h.request,
    (bytes) => {
      if (!'HTTP/'.startsWith(bytes.toString('latin1', 0, 5))) {
        throw proxyFailure(h, 'proxy_error', `answered ${h.request} with something other than HTTP: "${printable(h, bytes, 40)}"`);
      }
      const end = bytes.indexOf('\r\n\r\n');
      if (end >= 0) return end + 4;
      if (bytes.length > MAX_HEAD_BYTES) throw proxyFailure(h, 'proxy_error', `answered ${h.request} with over ${MAX_HEAD_BYTES} bytes of headers`);
      return undefined;
    },
    'tcp_timeout',
  );
  const statusLine = head.toString('latin1').split('\r\n')[0] ?? '';
  const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})(?: |$)/.exec(statusLine)?.[1] ?? Number.NaN);
  if (Number.isNaN(status)) throw proxyFailure(h, 'proxy_error', `answered ${h.request} with "${printable(h, statusLine)}", not an HTTP status`);
  if (status >= 200 && status < 300) return;
  throw proxyFailure(h, connectStatusCode(status), `answered ${h.request} with "${printable(h, statusLine)}"`);
}

/** RFC 1928 replies, and what each means here. */
const SOCKS_REPLIES: Record<number, { text: string; code: FailureCode }> = {
  1: { text: 'general SOCKS server failure', code: 'proxy_error' },
  2: { text: 'connection not allowed by ruleset', code: 'proxy_refused' },
  3: { text: 'network unreachable', code: 'tcp_unreachable' },
  4: { text: 'host unreachable', code: 'tcp_unreachable' },
  5: { text: 'connection refused', code: 'tcp_refused' },
  6: { text: 'TTL expired', code: 'tcp_timeout' },
  7: { text: 'command not supported', code: 'proxy_error' },
  8: { text: 'address type not supported', code: 'proxy_error' },
};

function ipv6Bytes(address: string): Buffer {
  let text = address.replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'));
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, i) => bytes.writeUInt16BE(Number.parseInt(group, 16), i * 2));
  return bytes;
}

/** DST.ADDR of a SOCKS5 request: an IPv4 or IPv6 address, or a name for the proxy to resolve. */
function socksAddress(destination: string): Buffer {
  if (isIPv4(destination)) return Buffer.from([1, ...destination.split('.').map(Number)]);
  if (isIPv6(destination)) return Buffer.concat([Buffer.from([4]), ipv6Bytes(destination)]);
  const name = Buffer.from(destination);
  return Buffer.concat([Buffer.from([3, name.length]), name]);
}

/** The length of a SOCKS5 reply: a refusal is known by its first two bytes, a success by its bound address. */
function socksReplyLength(h: Handshake, bytes: Buffer): number | undefined {
  if (bytes.length < 2) return undefined;
  if (bytes[1] !== 0) return 2;
  if (bytes.length < 5) return undefined;
  const type = bytes[3];
  const addressBytes = type === 1 ? 4 : type === 4 ? 16 : type === 3 ? 1 + (bytes[4] ?? 0) : undefined;
  if (addressBytes === undefined) throw proxyFailure(h, 'proxy_error', `answered ${h.request} with unknown address type ${type}`);
  return 4 + addressBytes + 2;
}

async function socks5Connect(h: Handshake, destination: string, port: number): Promise<void> {
  const { user, password } = h.proxy;
  const fixed = (length: number) => (): number => length;
  h.socket.write(Buffer.from(user !== undefined ? [5, 2, 0, 2] : [5, 1, 0]));
  const [version, method] = await readAnswer(h, 'the SOCKS5 greeting', fixed(2), 'proxy_error');
  if (version !== 5) {
    throw proxyFailure(h, 'proxy_error', `answered the SOCKS5 greeting with something other than SOCKS5 (0x${version?.toString(16)})`);
  }
  if (method === 0xff) {
    throw proxyFailure(
      h,
      'proxy_auth',
      user !== undefined ? 'accepts neither no authentication nor a user name and password' : 'wants a user name and password, and --proxy gives none',
    );
  }
  if (method === 2 && user !== undefined) {
    const [name, secret] = [Buffer.from(user), Buffer.from(password ?? '')];
    h.socket.write(Buffer.concat([Buffer.from([1, name.length]), name, Buffer.from([secret.length]), secret]));
    const [, status] = await readAnswer(h, 'the user name and password', fixed(2), 'proxy_error');
    if (status !== 0) throw proxyFailure(h, 'proxy_auth', `rejected the user name and password (status ${status})`);
  } else if (method !== 0) {
    throw proxyFailure(h, 'proxy_error', `chose authentication method ${method}, which pushcheck did not offer`);
  }
  h.socket.write(Buffer.concat([Buffer.from([5, 1, 0]), socksAddress(destination), Buffer.from([port >> 8, port & 0xff])]));
  const reply = await readAnswer(h, h.request, (bytes) => socksReplyLength(h, bytes), 'tcp_timeout');
  if (reply[0] !== 5) throw proxyFailure(h, 'proxy_error', `answered ${h.request} with something other than SOCKS5`);
  const code = reply[1] ?? 0;
  if (code === 0) return;
  const known = SOCKS_REPLIES[code];
  throw proxyFailure(h, known?.code ?? 'proxy_error', `answered ${h.request} with reply ${code}, "${known?.text ?? 'unknown'}"`);
}

/**
 * Has the proxy at the other end of `socket` open a tunnel to `destination`:`port` (a name, which the proxy
 * resolves, or an address) within `timeoutMs` of `startedAt` (default: now). Then the socket carries the
 * destination's bytes; otherwise it is destroyed and a PhaseError of phase connect says what the proxy answered.
 * A caller whose time began before the tunnel (tcp.ts: the connect to the proxy) passes that moment, so that a timeout
 * says how long the try took: had the connect been read late, after a stall, the tunnel's own wait, and its message,
 * would have said 0 ms.
 */
export async function openTunnel(
  socket: Socket,
  proxy: Proxy,
  destination: string,
  port: number,
  options: { signal: AbortSignalLike; timeoutMs: number; startedAt?: number },
): Promise<void> {
  const h: Handshake = {
    socket,
    proxy,
    request: `CONNECT ${authority(destination, port)}`,
    port,
    signal: options.signal,
    start: options.startedAt ?? performance.now(),
    timeoutMs: options.timeoutMs,
  };
  try {
    await (proxy.protocol === 'http' ? httpConnect(h, destination, port) : socks5Connect(h, destination, port));
  } catch (err) {
    socket.destroy();
    throw err;
  }
}
