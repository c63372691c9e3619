/** The mock FCM behind HTTPS (HTTP/2, and HTTP/1.1 as Google's front ends allow). */
import http2 from 'node:http2';
import { listen, type Endpoint } from '../endpoints.js';
import { readBody, sendJson, serve } from '../http.js';
import type { FcmService } from './fcm.js';
import type { OAuthTokenService } from './google-oauth.js';

export interface FcmServerOptions {
  service: FcmService;
  /** The OAuth token endpoint served beside FCM at `POST /token` (oauth2.googleapis.com's part). */
  oauth?: OAuthTokenService;
  host: string;
  port?: number;
  cert: string;
  key: string;
}

const JSON_UTF8 = 'application/json; charset=UTF-8';

/** FCM over HTTPS (HTTP/2, with HTTP/1.1 allowed as Google's front ends do), and its OAuth token endpoint. */
export async function startFcmServer(options: FcmServerOptions): Promise<Endpoint> {
  const handler = serve(
    'fcm',
    async (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => {
      const body = (await readBody(req)).toString('utf8');
      if (options.oauth && (req.url ?? '').split('?')[0] === '/token') {
        if (req.method !== 'POST') return sendJson(res, 405, { error: 'invalid_request', error_description: 'POST only' }, JSON_UTF8);
        const r = options.oauth.handle(new URLSearchParams(body));
        return sendJson(res, r.status, r.body, JSON_UTF8);
      }
      const auth = req.headers.authorization;
      const r = options.service.handle({
        method: req.method ?? '',
        path: req.url ?? '/',
        ...(typeof auth === 'string' ? { authorization: auth } : {}),
        body,
      });
      if (r.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(r.retryAfterSeconds));
      sendJson(res, r.status, r.body, JSON_UTF8);
    },
    // Google's shape for errors the service never saw (a body over the limit).
    (res, err) => sendJson(res, err.status, { error: { code: err.status, message: err.message, status: 'INVALID_ARGUMENT' } }, JSON_UTF8),
  );
  const server = http2.createSecureServer({ cert: options.cert, key: options.key, allowHTTP1: true }, handler);
  server.on('session', (s) => s.on('error', () => undefined));
  return listen(server, options.host, options.port ?? 0, 'fcm');
}
