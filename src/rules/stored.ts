/**
 * The built-in rule sets as the build parsed them (dist/rule-sets.json, written by scripts/bundle.mjs), so that
 * `pushcheck ios` does not parse YAML and check the schema on every run: that was the largest part of its own time
 * before its first connect (docs/contributing.md has the figures). A stored rule set is used only
 *  - by the bundles built with it: they carry the file's id (PUSHCHECK_RULE_SETS_ID); vitest and tsc's output parse
 *    as before, so a change to the parser is never hidden behind an older build's result;
 *  - while its file in rules/ reads as the very text it was parsed from: the texts are stored once, with the summaries
 *    of `rules list` (dist/rule-summaries.json, summaries.ts), which carry the same id. Comparing the text costs less
 *    than a hash, whose node:crypto a run of `pushcheck ios` would load for nothing else.
 * Anything else, and the file is parsed.
 */
import { basename } from 'node:path';
import { debuglog } from 'node:util';
import { packageUrl } from '../package-root.js';
import type { RuleSet } from '../types.js';
import { builtJson } from './built-json.js';
import { SUMMARIES_PATH, type StoredSummaries } from './summaries.js';

/** Where the build writes the parsed rule sets, relative to the package root. */
export const RULE_SETS_PATH = 'dist/rule-sets.json';

/** dist/rule-sets.json. */
export interface StoredRuleSets {
  /** A hash of the rule files' texts and of `sets`; the bundles built with them, and the stored texts, carry it. */
  id: string;
  /** By file name in rules/: the rule set parsed from it (`file` as at build time). */
  sets: Record<string, RuleSet>;
}

declare const PUSHCHECK_RULE_SETS_ID: string | undefined;
/** The id of the stored rule sets this code was bundled with; undefined when it was not bundled by the build. */
export const bundledRuleSetsId: string | undefined = typeof PUSHCHECK_RULE_SETS_ID === 'string' ? PUSHCHECK_RULE_SETS_ID : undefined;

const debug = debuglog('pushcheck');

/**
 * The rule set stored for `file` (a built-in rule file) whose text now is `text`, when it may be used (see above);
 * otherwise undefined. `stored` holds the sets, `texts` the text each was parsed from.
 */
export function storedRuleSet(
  file: string,
  text: string,
  id: string | undefined = bundledRuleSetsId,
  stored: URL = packageUrl(RULE_SETS_PATH),
  texts: URL = packageUrl(SUMMARIES_PATH),
): RuleSet | undefined {
  if (id === undefined) return undefined;
  const name = basename(file);
  const sets = builtJson<StoredRuleSets>(stored);
  const set = sets?.id === id ? sets.sets[name] : undefined;
  const parsedFrom = set && builtJson<StoredSummaries>(texts);
  const storedText = parsedFrom?.id === id ? parsedFrom.files[name] : undefined;
  if (set === undefined || storedText === undefined || storedText !== text) {
    const why = !sets ? 'none stored' : sets.id !== id ? 'stored by another build' : !set ? 'not stored' : storedText === undefined ? 'its text not stored by this build' : 'the file changed since the build';
    debug('rule set %s: parsed (%s)', file, why);
    return undefined;
  }
  debug('rule set %s: as the build parsed it', file);
  return { ...set, file };
}
