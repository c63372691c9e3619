/**
 * The mock MDM server behind HTTPS: the routes devices use, each a call into `MdmService`.
 *
 *   PUT  /mdm/checkin   {"MessageType": "Authenticate" | "TokenUpdate", "UDID", …}
 *   PUT  /mdm/connect   {"UDID", "Status", "CommandUUID"?}  → the next command, or an empty 200
 *   POST /ping          {"UDID"}  the hourly status ping (iOS)
 *   POST /heartbeat     {"UDID"}  the hourly heartbeat (Android) → the next command, or an empty 200
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, type Endpoint } from '../endpoints.js';
import { HttpError, readJsonBody, sendJson, serve } from '../http.js';
import { CHECK_IN_STATUSES, type CheckInStatus, type MdmService } from './mdm.js';

export interface MdmServerOptions {
  service: MdmService;
  host: string;
  port?: number;
  cert: string;
  key: string;
}

function str(body: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `${key} is required`);
  return v;
}

/** Handles one MDM HTTP request against the service; an `HttpError` is the client's mistake. */
export async function handleMdmRequest(service: MdmService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://mdm.invalid');
  const body = req.method === 'PUT' || req.method === 'POST' ? await readJsonBody(req) : {};
  if (url.pathname === '/mdm/checkin' && req.method === 'PUT') {
    const type = str(body, 'MessageType');
    const udid = str(body, 'UDID')!;
    if (type === 'Authenticate') return sendJson(res, 200);
    if (type !== 'TokenUpdate') throw new HttpError(400, `unknown MessageType ${type}`);
    const platform = body.Platform === 'android' ? 'android' : 'ios';
    service.enroll(udid, platform, {
      ...(platform === 'ios' ? { token: str(body, 'Token'), pushMagic: str(body, 'PushMagic'), topic: str(body, 'Topic') } : {}),
      ...(typeof body.FcmToken === 'string' ? { fcmToken: body.FcmToken } : {}),
    });
    return sendJson(res, 200);
  }
  if (url.pathname === '/mdm/connect' && req.method === 'PUT') {
    const status = str(body, 'Status') as CheckInStatus;
    if (!CHECK_IN_STATUSES.includes(status)) throw new HttpError(400, `unknown Status ${status}`);
    const commandUUID = str(body, 'CommandUUID', status !== 'Idle');
    const command = service.checkIn(str(body, 'UDID')!, commandUUID ? { status, commandUUID } : { status }, 'push');
    return sendJson(res, 200, command ?? undefined);
  }
  if (url.pathname === '/ping' && req.method === 'POST') {
    service.ping(str(body, 'UDID')!, Number(req.headers['content-length'] ?? 0));
    return sendJson(res, 204);
  }
  if (url.pathname === '/heartbeat' && req.method === 'POST') {
    const command = service.heartbeat(str(body, 'UDID')!, Number(req.headers['content-length'] ?? 0));
    return sendJson(res, 200, command ?? undefined);
  }
  throw new HttpError(404, `no route ${req.method} ${url.pathname}`);
}

/** The MDM server over HTTPS. */
export async function startMdmServer(options: MdmServerOptions): Promise<Endpoint> {
  const server = https.createServer(
    { cert: options.cert, key: options.key, keepAlive: true },
    serve('mdm', (req: IncomingMessage, res: ServerResponse) => handleMdmRequest(options.service, req, res)),
  );
  server.on('tlsClientError', () => undefined);
  return listen(server, options.host, options.port ?? 0, 'mdm');
}
