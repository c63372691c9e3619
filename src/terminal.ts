/**
 * Terminal sizes as pushcheck believes them. A pseudo-terminal may say 0 × 0 (some CI wrappers, `docker run -t`
 * at first) or something absurd; either is "unknown", and the layout falls back to its defaults.
 */

/** Larger than any real terminal. */
const MAX_TERMINAL_SIZE = 10_000;

/** `size` when it is a believable number of columns or rows; undefined for 0, negatives, NaN or absurd sizes. */
export function knownTerminalSize(size: unknown): number | undefined {
  return typeof size === 'number' && Number.isInteger(size) && size > 0 && size <= MAX_TERMINAL_SIZE ? size : undefined;
}
