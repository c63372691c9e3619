/** The mock FCM behind HTTPS (HTTP/2, and HTTP/1.1 as Google's front ends allow). */
import http2 from 'node:http2';
import { listen, type Endpoint } from '../endpoints.js';
import { readBody, sendJson, serve } from '../http.js';
import type { FcmService } from './fcm.js';

export interface FcmServerOptions {
  service: FcmService;
  host: string;
  port?: number;
  cert: string;
  key: string;
}

const JSON_UTF8 = 'application/json; charset=UTF-8';

/** FCM over HTTPS (HTTP/2, with HTTP/1.1 allowed as Google's front ends do). */
export async function startFcmServer(options: FcmServerOptions): Promise<Endpoint> {
  const handler = serve(
    'fcm',
    async (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      const body = (await readBody(req)).toString('utf8');
      const auth = req.headers.authorization;
      const r = options.service.handle({
        method: req.method ?? '',
        path: req.url ?? '/',
        ...(typeof auth === 'string' ? { authorization: auth } : {}),
        body,
      });
      sendJson(res, r.status, r.body, JSON_UTF8);
    },
    // Google's shape for errors the service never saw (a body over the limit).
    (res, err) => sendJson(res, err.status, { error: { code: err.status, message: err.message, status: 'INVALID_ARGUMENT' } }, JSON_UTF8),
  );
  const server = http2.createSecureServer({ cert: options.cert, key: options.key, allowHTTP1: true }, handler);
  server.on('session', (s) => s.on('error', () => undefined));
  return listen(server, options.host, options.port ?? 0, 'fcm');
}
