/** The three push services on one clock, fault board and random source: what the harness and the simulation share. */
import { ApnsService } from './apns.js';
import type { Clock } from '../clock.js';
import type { FaultBoard } from '../faults.js';
import { FcmService } from './fcm.js';
import type { AccessCheck } from './google-oauth.js';
import { MdmService } from './mdm.js';
import type { Rng } from '../random.js';

export interface PushServiceOptions {
  maxPushesPerTokenPerMinute?: number;
  pushRetryDelaysMs?: number[];
  commandTtlMs?: number;
  /** Judges bearer tokens other than the harness's fixed FCM access token (those its OAuth endpoint issued). */
  fcmAccessCheck?: (token: string) => AccessCheck;
}

export interface PushServices {
  apns: ApnsService;
  fcm: FcmService;
  mdm: MdmService;
}

export function createPushServices(clock: Clock, faults: FaultBoard, rng: Rng, options: PushServiceOptions): PushServices {
  return {
    apns: new ApnsService({
      clock,
      faults,
      rng: rng.fork('apns'),
      ...(options.maxPushesPerTokenPerMinute ? { maxPushesPerTokenPerMinute: options.maxPushesPerTokenPerMinute } : {}),
    }),
    fcm: new FcmService({ clock, faults, rng: rng.fork('fcm'), ...(options.fcmAccessCheck ? { checkAccessToken: options.fcmAccessCheck } : {}) }),
    mdm: new MdmService({
      clock,
      rng: rng.fork('mdm'),
      ...(options.pushRetryDelaysMs ? { pushRetryDelaysMs: options.pushRetryDelaysMs } : {}),
      ...(options.commandTtlMs ? { commandTtlMs: options.commandTtlMs } : {}),
    }),
  };
}
