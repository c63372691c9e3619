/** Durations as people write them on a command line (`90s`, `5m`, `1h`) and as reports show them. */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as const;
const PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/** ms of a duration such as `90s`, `5m`, `1.5h` or `250ms`; undefined when the text is not one. */
export function parseDuration(text: string): number | undefined {
  const match = PATTERN.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const ms = Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
  return Number.isFinite(ms) ? Math.round(ms) : undefined;
}

/** `45 s`, `5 min`, `1 h 30 min`, `1.2 s`: what a person reads, to the second above ten seconds. */
export function formatDuration(ms: number): string {
  if (ms < 10_000) return `${(Math.round(ms / 100) / 10).toString()} s`;
  const totalS = Math.round(ms / 1000);
  const h = Math.floor(totalS / 3600);
  const min = Math.floor((totalS % 3600) / 60);
  const s = totalS % 60;
  const parts = [h > 0 ? `${h} h` : '', min > 0 ? `${min} min` : '', s > 0 ? `${s} s` : ''].filter(Boolean);
  return parts.join(' ');
}
