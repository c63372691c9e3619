/** Small real clients for the harness tests: an HTTP/2 request and a wait-until with a deadline. */
import http2 from 'node:http2';
import type { Harness } from '../../src/harness/index.js';

export interface H2Response {
  status: number;
  headers: http2.IncomingHttpHeaders;
  body: string;
  json: Record<string, unknown> | undefined;
}

export function h2connect(port: number, options: { ca: string; cert?: string; key?: string; servername?: string } ): http2.ClientHttp2Session {
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    ca: options.ca,
    servername: options.servername ?? 'api.push.apple.com',
    ...(options.cert ? { cert: options.cert, key: options.key } : {}),
  });
  session.on('error', () => undefined);
  return session;
}

export function h2request(
  session: http2.ClientHttp2Session,
  req: { method?: string; path: string; headers?: http2.OutgoingHttpHeaders; body?: string },
): Promise<H2Response> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': req.method ?? 'POST', ':path': req.path, ...req.headers });
    let headers: http2.IncomingHttpHeaders = {};
    let body = '';
    stream.setEncoding('utf8');
    stream.on('response', (h) => (headers = h));
    stream.on('data', (c: string) => (body += c));
    stream.on('error', reject);
    stream.on('end', () => {
      let json: Record<string, unknown> | undefined;
      try {
        json = body ? (JSON.parse(body) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ status: Number(headers[':status']), headers, body, json });
    });
    if (!stream.writableEnded) stream.end(req.body ?? '');
  });
}

/** Polls `check` until it returns true; fails after `timeoutMs` (bounded: every test loop ends). */
export async function waitFor(check: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const hexToken = (n: number): string => n.toString(16).padStart(64, '0');

/** A JSON client of a running harness's admin API (`port` read at each call: the harness may start later). */
export function adminClient(port: () => number): (method: string, path: string, body?: unknown) => Promise<{ status: number; json: any }> {
  return async (method, path, body) => {
    const res = await fetch(`http://127.0.0.1:${port()}${path}`, {
      method,
      ...(body !== undefined ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    return { status: res.status, json: await res.json() };
  };
}

/** Adds a simulated iOS device and waits until it is enrolled with its token and its courier connection is up. */
export async function enrolledIosDevice(h: Harness): Promise<{ udid: string; token: string }> {
  const [d] = h.addDevices({ ios: 1 });
  const udid = d!.profile.udid;
  await waitFor(() => h.mdm.devices.get(udid)?.token !== undefined && d!.courierPort !== undefined, 10_000, 'enrollment');
  return { udid, token: d!.profile.token! };
}
