/**
 * What `pushcheck rules list` shows of each built-in rule set, without parsing one. The build summarises every file
 * in rules/ (scripts/bundle.mjs → dist/rule-summaries.json), with the text of each file and the table the CLI prints;
 * the texts, stored only here, are also what stored.ts holds a file to before it uses the rule set parsed from it.
 * Parsing the seven YAML files costs more CPU than Node's whole start, reading and comparing them a tenth of a
 * millisecond (a sha256 of each, as before, loaded node:crypto for 3–4 ms; src/rules/stored.ts compares texts too).
 * The summaries count only while rules/ holds exactly the files they were made from, character for character: a file
 * changed, added or removed, and `rules list` parses the rule sets as before (builtin.ts's builtinSummaries).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { packageUrl } from '../package-root.js';
import { builtJson } from './built-json.js';

/** One row of `rules list`. */
export interface RuleSetSummary {
  id: string;
  aliases: string[];
  title: string;
  rules: number;
  targets: number;
}

/** dist/rule-summaries.json: the summaries in `rules list` order, and the text of each file they were made from. */
export interface StoredSummaries {
  /** The id of the rule sets the build parsed from the same texts (dist/rule-sets.json, stored.ts). */
  id: string;
  /** By file name in rules/: its text. */
  files: Record<string, string>;
  summaries: RuleSetSummary[];
  /** `rules list`'s table of them, as src/cli/rules-table.ts renders it (the build calls it). */
  table: string;
}

/** Where the build writes the summaries, relative to the package root. */
export const SUMMARIES_PATH = 'dist/rule-summaries.json';

/** A rule file's name in rules/ (built-in rule sets are the .yaml and .yml files there). */
export function isRuleFileName(name: string): boolean {
  return /\.ya?ml$/.test(name);
}

/**
 * The stored summaries, when `rulesDir` still holds exactly the files they were made from; otherwise (or with no
 * stored file, as under vitest before a build) undefined. The single executable ships them (scripts/build-sea.mjs).
 */
export function storedSummaries(rulesDir: URL = packageUrl('rules/'), stored: URL = packageUrl(SUMMARIES_PATH)): StoredSummaries | undefined {
  const saved = builtJson<StoredSummaries>(stored);
  if (!saved) return undefined;
  const names = readdirSync(rulesDir).filter(isRuleFileName).sort();
  if (names.join('\n') !== Object.keys(saved.files).sort().join('\n')) return undefined;
  for (const name of names) if (readFileSync(new URL(name, rulesDir), 'utf8') !== saved.files[name]) return undefined;
  return saved;
}
