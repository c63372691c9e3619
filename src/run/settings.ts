/**
 * Run settings with the CLI's defaults, for library users (and tests and benchmarks) who call runChecks without
 * going through the command line: name what differs, get the rest as `pushcheck` would use it.
 */
import type { CheckSettings } from './run.js';

export const DEFAULT_TIMEOUT_MS = 5000;
/** Above the number of targets of `pushcheck all`, so the whole run takes about as long as its slowest probe. */
export const DEFAULT_CONCURRENCY = 64;

/**
 * Settings for runChecks: `overrides` win; the options recorded in the report follow the settings they record
 * (timeout, concurrency, retries, strict, insecure, --hold), and `overrides.recorded` wins over those.
 */
export function checkSettings(overrides: Partial<CheckSettings> = {}): CheckSettings {
  const settings: Omit<CheckSettings, 'recorded'> = {
    timeoutMs: DEFAULT_TIMEOUT_MS,
    concurrency: DEFAULT_CONCURRENCY,
    retries: 0,
    strict: false,
    insecure: false,
    pins: [],
    caPems: [],
    vars: {},
    ...overrides,
  };
  return {
    ...settings,
    recorded: {
      resolve: [],
      caFiles: [],
      vars: [],
      timeoutMs: settings.timeoutMs,
      concurrency: settings.concurrency,
      retries: settings.retries,
      strict: settings.strict,
      insecure: settings.insecure,
      ...(settings.holdMs !== undefined && { holdMs: settings.holdMs }),
      ...overrides.recorded,
    },
  };
}
