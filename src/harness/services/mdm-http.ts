/**
 * The mock MDM server behind HTTPS, speaking Apple's MDM protocol: property lists (XML or binary) in, XML out.
 *
 *   PUT  /mdm/checkin   (CheckInURL, application/x-apple-aspen-mdm-checkin)  MessageType Authenticate,
 *                       TokenUpdate (Token as data, PushMagic, Topic, UnlockToken optional) or CheckOut → empty 200
 *   PUT  /mdm/connect   (ServerURL, application/x-apple-aspen-mdm)  UDID, Status (Idle, Acknowledged, Error with
 *                       ErrorChain, CommandFormatError, NotNow), CommandUUID, the answer's keys (kept with the action)
 *                       → the next command as a plist (RequestType and its keys), or an empty 200
 *   POST /ping          {"UDID"}  the hourly status ping (iOS; JSON, the harness's own route)
 *   POST /heartbeat     {"UDID"}  the hourly heartbeat (Android; JSON in, the next command as a plist out)
 *
 * Android devices check in with the same messages plus `Platform: android` and `FcmToken` (a harness extension:
 * Android management has no such protocol of Apple's).
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, type Endpoint } from '../endpoints.js';
import { HttpError, readBody, readJsonBody, sendJson, serve } from '../http.js';
import { decodePlistDict, encodePlistXml, type PlistDict, type PlistValue } from '../plist.js';
import { CHECK_IN_STATUSES, type CheckInReport, type CheckInStatus, type MdmCommand, type MdmService } from './mdm.js';

export interface MdmServerOptions {
  service: MdmService;
  host: string;
  port?: number;
  cert: string;
  key: string;
}

export const CHECK_IN_CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';
export const CONNECT_CONTENT_TYPE = 'application/x-apple-aspen-mdm';

function text(body: PlistDict, key: string): string;
function text(body: PlistDict, key: string, required: false): string | undefined;
function text(body: PlistDict, key: string, required = true): string | undefined {
  const v = body[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v === '') throw new HttpError(400, `${key} is required (a string)`);
  return v;
}

/** `Token` is binary data in the protocol; hex text is taken too (what a JSON-minded client sends). */
function token(body: PlistDict): string {
  const v = body.Token;
  if (v instanceof Uint8Array && v.length > 0) return Buffer.from(v).toString('hex');
  if (typeof v === 'string' && /^(?:[0-9a-f]{2})+$/i.test(v)) return v.toLowerCase();
  throw new HttpError(400, 'Token is required (data)');
}

/** The first error of an ErrorChain, as "domain code: description". */
function errorChain(body: PlistDict): string | undefined {
  const chain = body.ErrorChain;
  if (!Array.isArray(chain) || chain.length === 0) return undefined;
  const first = chain[0] as { [k: string]: PlistValue };
  const parts = [first.ErrorDomain, first.ErrorCode].filter((p) => p !== undefined).join(' ');
  const description = first.LocalizedDescription ?? first.USEnglishDescription;
  return [parts, description].filter((p) => p !== undefined && p !== '').join(': ') || undefined;
}

function sendCommand(res: ServerResponse, command: MdmCommand | null): void {
  if (!command) return sendJson(res, 200);
  const xml = encodePlistXml(command as unknown as PlistValue);
  res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

/** Handles one MDM HTTP request against the service; an `HttpError` is the client's mistake. */
export async function handleMdmRequest(service: MdmService, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'https://mdm.invalid');
  if (url.pathname === '/mdm/checkin' && req.method === 'PUT') {
    const body = decodePlistDict(await readBody(req));
    const type = text(body, 'MessageType');
    const udid = text(body, 'UDID');
    const platform = body.Platform === 'android' ? 'android' : 'ios';
    if (type === 'Authenticate') {
      service.authenticate(udid, platform);
      return sendJson(res, 200);
    }
    if (type === 'CheckOut') {
      service.checkOut(udid);
      return sendJson(res, 200);
    }
    if (type !== 'TokenUpdate') throw new HttpError(400, `unknown MessageType ${type}`);
    const fcmToken = text(body, 'FcmToken', false);
    service.enroll(udid, platform, {
      ...(platform === 'ios' ? { token: token(body), pushMagic: text(body, 'PushMagic'), topic: text(body, 'Topic') } : {}),
      ...(fcmToken ? { fcmToken } : {}),
    });
    return sendJson(res, 200);
  }
  if (url.pathname === '/mdm/connect' && req.method === 'PUT') {
    const body = decodePlistDict(await readBody(req));
    const status = text(body, 'Status') as CheckInStatus;
    if (!CHECK_IN_STATUSES.includes(status)) throw new HttpError(400, `unknown Status ${status}`);
    const commandUUID = status === 'Idle' ? text(body, 'CommandUUID', false) : text(body, 'CommandUUID');
    const chain = status === 'Error' ? errorChain(body) : undefined;
    // What the device says besides the protocol's own keys is its answer (QueryResponses, ProfileList, …).
    const { UDID: _u, Status: _s, CommandUUID: _c, ErrorChain: _e, ...response } = body;
    const report: CheckInReport = {
      status,
      ...(commandUUID ? { commandUUID } : {}),
      ...(chain ? { errorChain: chain } : {}),
      ...(Object.keys(response).length > 0 ? { response } : {}),
    };
    return sendCommand(res, service.checkIn(text(body, 'UDID'), report, 'push'));
  }
  if (url.pathname === '/ping' && req.method === 'POST') {
    const body = await readJsonBody(req);
    if (typeof body.UDID !== 'string' || body.UDID === '') throw new HttpError(400, 'UDID is required');
    service.ping(body.UDID, Number(req.headers['content-length'] ?? 0));
    return sendJson(res, 204);
  }
  if (url.pathname === '/heartbeat' && req.method === 'POST') {
    const body = await readJsonBody(req);
    if (typeof body.UDID !== 'string' || body.UDID === '') throw new HttpError(400, 'UDID is required');
    return sendCommand(res, service.heartbeat(body.UDID, Number(req.headers['content-length'] ?? 0)));
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
