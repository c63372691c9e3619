/**
 * The harness's admin API (plain HTTP, loopback only): enqueue actions, read histories, switch faults,
 * add simulated devices, register tokens, read counters. JSON in, JSON out.
 *
 *   GET    /                       endpoints, CA file, MDM topic
 *   GET    /faults                 known faults and those switched on
 *   PUT    /faults/<name>          {"value"?: number}  switch on
 *   DELETE /faults/<name>          switch off
 *   POST   /devices                {"ios"?, "android"?, "withoutPlayServices"?}  add simulated devices (real sockets)
 *   GET    /devices                enrolled devices
 *   GET    /devices/<udid>/history actions of one device with their histories
 *   POST   /actions                {"udid" | "all": true, "requestType"?, "command"?: {keys}, "ttlSeconds"?}
 *   GET    /actions/<id>           one action with its history
 *   POST   /apns/tokens            {"token", "topic"?}  make a device token known to the mock APNs
 *   POST   /apns/client-cas        {"certificate": PEM}  trust client certificates this CA signed
 *   GET    /apns/notifications     ?token=&topic=  what the mock APNs received, and answered   DELETE: clear
 *   GET    /fcm/messages           ?token=  what the mock FCM received, and answered           DELETE: clear
 *   POST   /apns/script            {"token" | "topic", "reason", "count"?}  answer the next request(s) so
 *   POST   /fcm/script             {"token", "reason", "count"?}   (GET lists, DELETE clears)
 *   GET    /mdm/commands           ?udid=  every command with its history
 *   POST   /apns/keys              {"keyId", "teamId", "publicKey": PEM, "topics"?, "environment"?, "pushTypes"?}
 *                                   accept tokens signed by this key (limited to topics, one environment, push types)
 *   POST   /apns/tokens/<t>/unregister   pushes to it: 410 Unregistered
 *   POST   /apns/tokens/<t>/expire       pushes to it: 410 ExpiredToken
 *   POST   /fcm/tokens             {"token", "projectId"?, "platform"?: "android" | "apple" | "web"}
 *   PUT    /fcm/third-party-auth   {"valid": boolean, "projectId"?}  the project's APNs / Web Push credentials good or not
 *   GET    /stats                  APNs, FCM, MDM and device counters
 */
import { createPublicKey, type KeyObject, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseWithoutPlayServices, type DeviceCounts } from '../device-counts.js';
import { FAULTS, faultValueProblem, isFaultName, type FaultBoard } from '../faults.js';

/** An APNs push may be stored for 30 days at most; a command waiting longer than a year is a mistake. */
const MAX_TTL_SECONDS = 365 * 24 * 3600;
import { HttpError, readJsonBody, sendJson } from '../http.js';
import { APNS_PUSH_TYPES, APNS_REASONS, type ApnsPushType, type ApnsService } from './apns.js';
import { FCM_ERRORS, type FcmService } from './fcm.js';
import type { AnswerScript, TrafficLog } from './traffic.js';
import { actionView, type MdmService } from './mdm.js';
import { dataKeys } from './mdm-commands.js';
import type { PlistDict } from '../plist.js';

/**
 * A command's keys from JSON: keys Apple types as data (InstallProfile's Payload) are given as base64 text.
 * Without them the command carries its type's default keys (mdm-commands.ts).
 */
function commandKeys(requestType: string, value: unknown): PlistDict | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpError(400, 'command must be an object of the command\'s keys');
  const keys = { ...(value as PlistDict) };
  delete keys.RequestType;
  for (const key of dataKeys(requestType)) {
    const v = keys[key];
    if (v === undefined) continue;
    if (typeof v !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(v)) throw new HttpError(400, `command.${key} must be base64 (it is data)`);
    keys[key] = Buffer.from(v, 'base64');
  }
  return keys;
}

/** What the admin API reads and drives: the services, the fault board and the simulated fleet, and nothing else. */
export interface AdminTarget {
  apns: ApnsService;
  fcm: FcmService;
  mdm: MdmService;
  faults: FaultBoard;
  mdmTopic: string;
  fcmProject: string;
  /** What `GET /` answers: where everything is. */
  describe(): Record<string, unknown>;
  /** Adds simulated devices; returns their profiles. */
  addDevices(counts: DeviceCounts): unknown[];
  /** The simulated device with this UDID, if the harness runs it. */
  simulated(udid: string): { online: boolean; courierPort: number | null } | undefined;
  /** The simulated devices' counters. */
  deviceCounters(): Record<string, number>;
  /** Makes the mock APNs accept client certificates signed by this CA (PEM, already checked to be a CA). */
  trustClientCa(pem: string): void;
  /** What the mock APNs and FCM received. */
  traffic: TrafficLog;
}

/** A PEM CA certificate from a request, or 400. */
function caCertificate(value: unknown): string {
  if (typeof value !== 'string') throw new HttpError(400, 'certificate must be a PEM text');
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(value);
  } catch {
    throw new HttpError(400, 'certificate is not a PEM certificate');
  }
  if (!cert.ca) throw new HttpError(400, 'certificate is not a CA certificate (basicConstraints CA:TRUE)');
  return cert.toString();
}

/** The public key of a .p8 pair (PEM; a private key is accepted and only its public half kept), or 400. */
function ecPublicKey(value: unknown): KeyObject {
  if (typeof value !== 'string') throw new HttpError(400, 'publicKey must be a PEM text');
  let key: KeyObject;
  try {
    key = createPublicKey(value);
  } catch {
    throw new HttpError(400, 'publicKey is not a PEM key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new HttpError(400, 'publicKey must be a P-256 key, as an APNs .p8 key is');
  }
  return key;
}

const count = (v: unknown, name: string, max: number): number => {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new HttpError(400, `${name} must be a whole number 0..${max}`);
  return v;
};

/** Handles one admin request; an `HttpError` is the caller's mistake, anything else a bug (see http.ts). */
export async function handleAdminRequest(h: AdminTarget, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const send = (status: number, value: unknown): void => sendJson(res, status, value);
  {
    const url = new URL(req.url ?? '/', 'http://admin.invalid');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    const b = method === 'POST' || method === 'PUT' ? await readJsonBody(req) : {};
    const [a0, a1, a2] = parts;

    if (parts.length === 0 && method === 'GET') {
      return send(200, h.describe());
    }
    if (a0 === 'faults') {
      if (!a1 && method === 'GET') return send(200, { known: FAULTS, on: h.faults.switchedOn() });
      if (!a1 || !isFaultName(a1)) throw new HttpError(404, `unknown fault ${a1 ?? ''}`);
      if (method === 'PUT') {
        const value = b.value as number | undefined;
        if (value !== undefined) {
          const problem = typeof value === 'number' ? faultValueProblem(FAULTS[a1].value, value) : 'must be a number';
          if (FAULTS[a1].value === 'none') throw new HttpError(400, `${a1} takes no value`);
          if (problem) throw new HttpError(400, `value ${problem}`);
        }
        h.faults.set(a1, value);
        return send(200, { on: h.faults.switchedOn() });
      }
      if (method === 'DELETE') {
        h.faults.clear(a1);
        return send(200, { on: h.faults.switchedOn() });
      }
    }
    if (a0 === 'devices') {
      if (!a1 && method === 'POST') {
        const ios = count(b.ios, 'ios', 2000);
        const android = count(b.android, 'android', 2000);
        // `noGcm` is the name this field had before; both mean the same.
        const share = b.withoutPlayServices ?? b.noGcm ?? 0;
        const withoutPlayServices = parseWithoutPlayServices(share);
        if (withoutPlayServices === undefined) throw new HttpError(400, 'withoutPlayServices must be a fraction 0..1');
        return send(201, { devices: h.addDevices({ ios, android, withoutPlayServices }) });
      }
      if (!a1 && method === 'GET') {
        return send(200, {
          devices: [...h.mdm.devices.values()].map((d) => ({
            udid: d.udid,
            platform: d.platform,
            token: d.token,
            fcmToken: d.fcmToken,
            queued: d.queue.length,
            inflight: d.inflight?.id ?? null,
            pings: d.pings,
            lastSeenAtMs: d.lastSeenAtMs ?? null,
            simulated: h.simulated(d.udid) ?? null,
          })),
        });
      }
      if (a1 && a2 === 'history' && method === 'GET') {
        const device = h.mdm.device(a1);
        return send(200, { udid: a1, actions: device.actions.map(actionView) });
      }
    }
    if (a0 === 'actions') {
      if (!a1 && method === 'POST') {
        // A wrong field is a 400 naming it, not a silent default.
        if (b.requestType !== undefined && (typeof b.requestType !== 'string' || !/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(b.requestType))) {
          throw new HttpError(400, 'requestType must be an MDM command name such as DeviceInformation');
        }
        if (b.ttlSeconds !== undefined && (typeof b.ttlSeconds !== 'number' || !Number.isSafeInteger(b.ttlSeconds) || b.ttlSeconds < 1 || b.ttlSeconds > MAX_TTL_SECONDS)) {
          throw new HttpError(400, `ttlSeconds must be a whole number of seconds from 1 to ${MAX_TTL_SECONDS}`);
        }
        const requestType = typeof b.requestType === 'string' ? b.requestType : 'DeviceInformation';
        const ttlMs = typeof b.ttlSeconds === 'number' ? b.ttlSeconds * 1000 : undefined;
        const command = commandKeys(requestType, b.command);
        const targets = b.all === true ? [...h.mdm.devices.keys()] : typeof b.udid === 'string' ? [b.udid] : [];
        // "all" with no device enrolled yet (one just added enrolls over its own connection) says so, not "give all".
        if (b.all === true && targets.length === 0) throw new HttpError(400, '"all": no device is enrolled yet (a device just added enrolls within moments)');
        if (targets.length === 0) throw new HttpError(400, 'give "udid" or "all": true');
        const actions = targets.map((udid) => h.mdm.enqueue(udid, requestType, { ...(ttlMs ? { ttlMs } : {}), ...(command ? { command } : {}) }));
        return send(201, { actions: actions.map(actionView) });
      }
      if (a1 && method === 'GET') {
        const action = h.mdm.actions.get(a1);
        if (!action) throw new HttpError(404, `no action ${a1}`);
        return send(200, { ...actionView(action), pendingReason: action.finishedAtMs === undefined ? h.mdm.pendingReason(action) : null });
      }
    }
    if (a0 === 'apns' && a1 === 'tokens') {
      if (!a2 && method === 'POST') {
        if (typeof b.token !== 'string' || !/^(?:[0-9a-f]{2}){32,100}$/i.test(b.token)) throw new HttpError(400, 'token must be hex');
        h.apns.registerToken(b.token, typeof b.topic === 'string' ? b.topic : h.mdmTopic);
        return send(201, { token: b.token.toLowerCase() });
      }
      if (a2 && parts[3] === 'unregister' && method === 'POST') {
        h.apns.unregisterToken(a2);
        return send(200, { token: a2 });
      }
      if (a2 && parts[3] === 'expire' && method === 'POST') {
        h.apns.expireToken(a2);
        return send(200, { token: a2 });
      }
    }
    if ((a0 === 'apns' && a1 === 'notifications') || (a0 === 'fcm' && a1 === 'messages')) {
      if (a2) throw new HttpError(404, `no route ${method} ${url.pathname}`);
      const service = a0;
      if (method === 'GET') {
        const token = url.searchParams.get('token') ?? undefined;
        const topic = url.searchParams.get('topic') ?? undefined;
        return send(200, { [a1]: h.traffic.list(service, { ...(token ? { token } : {}), ...(topic ? { topic } : {}) }) });
      }
      if (method === 'DELETE') return send(200, { cleared: h.traffic.clear(service) });
    }
    if ((a0 === 'apns' || a0 === 'fcm') && a1 === 'script' && !a2) {
      const script = a0 === 'apns' ? h.apns.script : h.fcm.script;
      if (method === 'GET') return send(200, { script: script.list() });
      if (method === 'DELETE') {
        script.clear();
        return send(200, { script: [] });
      }
      if (method === 'POST') {
        const reason = typeof b.reason === 'string' ? b.reason : '';
        const known = a0 === 'apns' ? Object.keys(APNS_REASONS) : Object.keys(FCM_ERRORS);
        if (!known.includes(reason)) throw new HttpError(400, `reason must be one of: ${known.join(', ')}`);
        const token = typeof b.token === 'string' && b.token !== '' ? b.token : undefined;
        const topic = typeof b.topic === 'string' && b.topic !== '' ? b.topic : undefined;
        if (!token && !topic) throw new HttpError(400, 'give the "token" or the "topic" the answer is for');
        const remaining = b.count === undefined ? 1 : count(b.count, 'count', 1_000_000);
        if (remaining < 1) throw new HttpError(400, 'count must be at least 1');
        (script as AnswerScript).add({ reason, remaining, ...(token ? { token } : {}), ...(topic ? { topic } : {}) });
        return send(201, { script: script.list() });
      }
    }
    if (a0 === 'mdm' && a1 === 'commands' && !a2 && method === 'GET') {
      const udid = url.searchParams.get('udid');
      const actions = [...h.mdm.actions.values()].filter((a) => udid === null || a.udid === udid);
      return send(200, { commands: actions.map(actionView) });
    }
    if (a0 === 'apns' && a1 === 'client-cas' && !a2 && method === 'POST') {
      const pem = caCertificate(b.certificate);
      h.trustClientCa(pem);
      return send(201, { trusted: new X509Certificate(pem).subject });
    }
    if (a0 === 'apns' && a1 === 'keys' && !a2 && method === 'POST') {
      const keyId = typeof b.keyId === 'string' && /^[A-Za-z0-9]{1,32}$/.test(b.keyId) ? b.keyId : undefined;
      const teamId = typeof b.teamId === 'string' && /^[A-Za-z0-9]{1,32}$/.test(b.teamId) ? b.teamId : undefined;
      if (!keyId || !teamId) throw new HttpError(400, 'keyId and teamId must be letters and digits');
      const topics = b.topics === undefined ? [] : b.topics;
      if (!Array.isArray(topics) || !topics.every((x) => typeof x === 'string' && x !== '')) throw new HttpError(400, 'topics must be a list of topics');
      const environment = b.environment;
      if (environment !== undefined && environment !== 'development' && environment !== 'production') {
        throw new HttpError(400, 'environment must be "development" or "production" (leave it out for both)');
      }
      const pushTypes = b.pushTypes === undefined ? [] : b.pushTypes;
      if (!Array.isArray(pushTypes) || !pushTypes.every((x) => (APNS_PUSH_TYPES as readonly unknown[]).includes(x))) {
        throw new HttpError(400, `pushTypes must be a list of: ${APNS_PUSH_TYPES.join(', ')}`);
      }
      h.apns.addProviderKey({
        keyId,
        teamId,
        publicKey: ecPublicKey(b.publicKey),
        topics,
        ...(environment ? { environment } : {}),
        ...(pushTypes.length > 0 ? { pushTypes: pushTypes as ApnsPushType[] } : {}),
      });
      return send(201, { keyId, teamId, topics, ...(environment ? { environment } : {}), ...(pushTypes.length > 0 ? { pushTypes } : {}) });
    }
    if (a0 === 'fcm' && a1 === 'tokens' && method === 'POST') {
      if (typeof b.token !== 'string' || b.token === '') throw new HttpError(400, 'token is required');
      const platform = b.platform ?? 'android';
      if (platform !== 'android' && platform !== 'apple' && platform !== 'web') throw new HttpError(400, 'platform must be "android", "apple" or "web"');
      h.fcm.registerToken(b.token, typeof b.projectId === 'string' ? b.projectId : h.fcmProject, platform);
      return send(201, { token: b.token, platform });
    }
    if (a0 === 'fcm' && a1 === 'third-party-auth' && !a2 && method === 'PUT') {
      if (typeof b.valid !== 'boolean') throw new HttpError(400, 'valid must be true or false');
      const projectId = typeof b.projectId === 'string' ? b.projectId : h.fcmProject;
      h.fcm.setThirdPartyAuth(b.valid, projectId);
      return send(200, { projectId, valid: b.valid });
    }
    if (a0 === 'stats' && method === 'GET') {
      return send(200, { apns: h.apns.stats, fcm: h.fcm.stats, mdm: h.mdm.counters, devices: h.deviceCounters() });
    }
    throw new HttpError(404, `no route ${method} ${url.pathname}`);
  }
}
