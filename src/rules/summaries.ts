/**
 * What `pushcheck rules list` shows of each built-in rule set, without parsing one. The build summarises every file
 * in rules/ (scripts/rule-summaries.mjs → dist/rule-summaries.json), with a hash of each file's bytes and the table
 * the CLI prints; parsing the seven YAML files costs more CPU than Node's whole start, reading and hashing them about
 * a millisecond.
 * The summaries count only while rules/ holds exactly the files they were made from, byte for byte: a file
 * changed, added or removed, and `rules list` parses the rule sets as before (builtin.ts's builtinSummaries).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { packageUrl } from '../package-root.js';

/** One row of `rules list`. */
export interface RuleSetSummary {
  id: string;
  aliases: string[];
  title: string;
  rules: number;
  targets: number;
}

/** dist/rule-summaries.json: the summaries in `rules list` order, and the hash of each file they were made from. */
export interface StoredSummaries {
  files: Record<string, string>;
  summaries: RuleSetSummary[];
  /** `rules list`'s table of them, as src/cli/rules-table.ts renders it (the build script calls it). */
  table: string;
}

/** Where the build writes the summaries, relative to the package root. */
export const SUMMARIES_PATH = 'dist/rule-summaries.json';

/** A rule file's name in rules/ (built-in rule sets are the .yaml and .yml files there). */
export function isRuleFileName(name: string): boolean {
  return /\.ya?ml$/.test(name);
}

export function fileHash(bytes: Buffer): string {
  return process.getBuiltinModule('node:crypto').createHash('sha256').update(bytes).digest('hex');
}

/**
 * The stored summaries, when `rulesDir` still holds exactly the files they were made from; otherwise (or with no
 * stored file, as under vitest before a build) undefined. The single executable ships them (scripts/build-sea.mjs).
 */
export function storedSummaries(rulesDir: URL = packageUrl('rules/'), stored: URL = packageUrl(SUMMARIES_PATH)): StoredSummaries | undefined {
  let saved: StoredSummaries;
  try {
    saved = JSON.parse(readFileSync(stored, 'utf8')) as StoredSummaries;
  } catch {
    return undefined;
  }
  const names = readdirSync(rulesDir).filter(isRuleFileName).sort();
  if (names.join('\n') !== Object.keys(saved.files).sort().join('\n')) return undefined;
  for (const name of names) if (fileHash(readFileSync(new URL(name, rulesDir))) !== saved.files[name]) return undefined;
  return saved;
}
