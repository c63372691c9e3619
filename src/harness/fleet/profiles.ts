/** Device identities for a simulated fleet: UDIDs, APNs tokens and PushMagic, FCM tokens. */
import type { DeviceProfile } from './devices.js';
import { randomHex, randomUuid, type Rng } from '../random.js';

export interface FleetSpec {
  ios: number;
  android: number;
  /** Fraction of the Android devices without Google Play services (rounded to a whole number of devices). */
  withoutPlayServices: number;
  /** The MDM topic devices enroll under. */
  topic: string;
  rng: Rng;
  /** Numbering starts here (so fleets added later get new UDIDs). */
  firstIndex?: number;
}

/** Exactly round(fraction × android) Android devices lack Google Play services: the first ones. */
export function androidWithoutPlayServices(android: number, fraction: number): number {
  return Math.round(fraction * android);
}


export function makeProfiles(spec: FleetSpec): DeviceProfile[] {
  const profiles: DeviceProfile[] = [];
  const first = spec.firstIndex ?? 0;
  for (let i = 0; i < spec.ios; i += 1) {
    profiles.push({
      udid: `IOS-${String(first + profiles.length).padStart(6, '0')}`,
      platform: 'ios',
      gcm: false,
      token: randomHex(spec.rng, 32),
      pushMagic: randomUuid(spec.rng),
      topic: spec.topic,
    });
  }
  const without = androidWithoutPlayServices(spec.android, spec.withoutPlayServices);
  for (let i = 0; i < spec.android; i += 1) {
    const gcm = i >= without;
    profiles.push({
      udid: `AND-${String(first + profiles.length).padStart(6, '0')}`,
      platform: 'android',
      gcm,
      ...(gcm ? { fcmToken: `fcm:${randomHex(spec.rng, 20)}` } : {}),
    });
  }
  return profiles;
}
