/** Option parsers and terminal decisions shared by the commands. */
import { parseDuration } from '../duration.js';
import { InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../errors.js';
import { parseWithoutPlayServices } from '../harness/device-counts.js';
import { knownTerminalSize } from '../terminal.js';

/** Parses a whole number in [min, max]; commander turns the error into a one-line usage error. */
export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError(`expected a whole number, got "${value}"`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

/** The longest --hold: MQTT's keep-alive, which must outlast the idle time, cannot ask for more than about 18 hours. */
export const MAX_HOLD_MS = 12 * 3_600_000;

/** --hold DURATION: `90s`, `5m`, `30m`, `1h`. */
export function holdDuration(value: string): number {
  const ms = parseDuration(value);
  if (ms === undefined) throw new InvalidArgumentError(`expected a duration such as 90s, 5m, 30m or 1h, got "${value}"`);
  if (ms < 1000 || ms > MAX_HOLD_MS) throw new InvalidArgumentError(`expected a duration from 1s to 12h, got "${value}"`);
  return ms;
}

/** For repeatable options: `--resolve a --resolve b` → ['a', 'b']. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * Colour on stdout: off when stdout is not a terminal or NO_COLOR is set; FORCE_COLOR (non-empty, not 0/false)
 * forces it on; `--no-color` forces it off.
 */
export function useColor(flag: boolean | undefined, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (flag === false) return false;
  const force = process.env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force !== 'false';
  if (process.env.NO_COLOR) return false;
  return Boolean(stream.isTTY);
}

/** The terminal's width when it has a believable one; undefined when not a terminal, or when it says 0 or absurd. */
export function terminalColumns(stream: NodeJS.WriteStream): number | undefined {
  return stream.isTTY ? knownTerminalSize(stream.columns) : undefined;
}

/**
 * Makes a terminal stream report 0 or an absurd size as unknown (undefined), now and after every resize. Some CI
 * wrappers and `docker run -t` start with 0 × 0; ora takes `columns ?? 80`, so 0 got through and it redrew
 * forever, counting Infinity lines to clear.
 */
export function guardTerminalSize(stream: NodeJS.WriteStream): NodeJS.WriteStream {
  for (const key of ['columns', 'rows'] as const) {
    let reported: unknown = stream[key];
    // Node sets these on the stream itself, on start and on SIGWINCH: the setter keeps what it says.
    Object.defineProperty(stream, key, {
      configurable: true,
      enumerable: true,
      get: () => knownTerminalSize(reported),
      set: (value: unknown) => {
        reported = value;
      },
    });
  }
  return stream;
}

/** A spinner only where a person watches: stderr is a terminal and this is not a CI job. */
export function wantSpinner(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.CI;
}

/** `-f, --format <name>`: one of `choices`, the first by default. */
export function formatOption(choices: readonly string[], description = 'output format'): Option {
  return new Option('-f, --format <name>', description).choices(choices).default(choices[0]);
}

/** `--no-color`, read by {@link useColor}. */
export function noColorOption(): Option {
  return new Option('--no-color', 'no ANSI colours, even on a terminal');
}

/**
 * `--without-play-services <fraction>`: the share of Android devices without Google Play services (reached at
 * their hourly heartbeat only). `--no-gcm <fraction>` is the same option under the name the vendors' tables use
 * (GCM, FCM's old name); both land in `withoutPlayServices`, a number, 0 unless given.
 */
export function withoutPlayServicesOptions(description: string): Option[] {
  const parse = (flag: string) => (value: string): number => {
    const n = parseWithoutPlayServices(value);
    if (n === undefined) throw new UsageError(`${flag} ${value}: expected a fraction between 0 and 1`);
    return n;
  };
  const option = new Option('--without-play-services <fraction>', description).argParser(parse('--without-play-services')).default(0);
  const alias = new Option('--no-gcm <fraction>', 'the same as --without-play-services').argParser(parse('--no-gcm')).default(0);
  // A "--no-" option would be stored as `gcm` (and default to true); it names the same setting.
  alias.attributeName = () => 'withoutPlayServices';
  return [option, alias];
}

/**
 * Days before expiry that a certificate starts to warn. Earlier than OpManager's ten days on purpose: a push
 * certificate can only be renewed with the Apple ID that created it, and finding that account (someone who left,
 * a shared mailbox) takes days.
 */
export const DEFAULT_WARN_DAYS = 30;

/** `--warn-days <n>`: push certificates (`pushcheck cert`) and the server certificates of a check. */
export function warnDaysOption(what = 'warn when a certificate expires within this many days'): Option {
  return new Option('--warn-days <n>', what).argParser(integer(0, 3650)).default(DEFAULT_WARN_DAYS);
}
