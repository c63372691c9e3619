/**
 * The JSON files the build writes beside the code (dist/rule-sets.json, dist/rule-summaries.json), each read and parsed
 * once a process by whichever module asks first: stored.ts asks rule-summaries.json for a file's text and summaries.ts
 * for the summaries, and `rules list` on a changed rules/ folder asks both. A module of its own: summaries.ts cannot
 * import stored.ts, which imports it.
 */
import { readFileSync } from 'node:fs';

const read = new Map<string, unknown>();

/** The JSON file at `url` (read once), or null when there is none or it does not parse (not built: vitest). */
export function builtJson<T>(url: URL): T | null {
  let json = read.get(url.href) as T | null | undefined;
  if (json === undefined) {
    try {
      json = JSON.parse(readFileSync(url, 'utf8')) as T;
    } catch {
      json = null;
    }
    read.set(url.href, json);
  }
  return json;
}
