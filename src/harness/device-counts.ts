/** How many simulated devices a fleet has, and the one reader of the share of Android devices without Google Play services. */

/** How many simulated devices to add; `withoutPlayServices` is the share of the Android ones without Google Play services. */
export interface DeviceCounts {
  ios: number;
  android: number;
  withoutPlayServices: number;
}

/**
 * The one reader of "the share of Android devices without Google Play services" (`--without-play-services`,
 * `--no-gcm`, the admin API's `withoutPlayServices`): a fraction 0..1 as a number or numeric text, else undefined.
 */
export function parseWithoutPlayServices(value: unknown): number | undefined {
  const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}
