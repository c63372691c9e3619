/**
 * The built-in rule sets as the build parsed them (dist/rule-sets.json, written by scripts/bundle.mjs), so that
 * `pushcheck ios` does not parse YAML and check the schema on every run: that was the largest part of its own time
 * before its first connect (docs/contributing.md has the figures). A stored rule set is used only
 *  - by the bundles built with it: they carry the file's id (PUSHCHECK_RULE_SETS_ID); vitest and tsc's output parse
 *    as before, so a change to the parser is never hidden behind an older build's result;
 *  - while its file in rules/ reads as the very text it was parsed from (stored beside it: comparing the text costs
 *    less than a hash, whose node:crypto a run of `pushcheck ios` would load for nothing else).
 * Anything else, and the file is parsed.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { debuglog } from 'node:util';
import { packageUrl } from '../package-root.js';
import type { RuleSet } from '../types.js';

/** Where the build writes the parsed rule sets, relative to the package root. */
export const RULE_SETS_PATH = 'dist/rule-sets.json';

/** dist/rule-sets.json. */
export interface StoredRuleSets {
  /** A hash of `files`; the bundles built with them carry it. */
  id: string;
  /** By file name in rules/: the file's text, and the rule set parsed from it (`file` as at build time). */
  files: Record<string, { text: string; set: RuleSet }>;
}

declare const PUSHCHECK_RULE_SETS_ID: string | undefined;
/** The id of the stored rule sets this code was bundled with; undefined when it was not bundled by the build. */
export const bundledRuleSetsId: string | undefined = typeof PUSHCHECK_RULE_SETS_ID === 'string' ? PUSHCHECK_RULE_SETS_ID : undefined;

const debug = debuglog('pushcheck');
const read = new Map<string, StoredRuleSets | null>();

function storedAt(url: URL): StoredRuleSets | null {
  let stored = read.get(url.href);
  if (stored === undefined) {
    try {
      stored = JSON.parse(readFileSync(url, 'utf8')) as StoredRuleSets;
    } catch {
      stored = null; // not built (vitest)
    }
    read.set(url.href, stored);
  }
  return stored;
}

/** The rule set stored for `file` (a built-in rule file), when it may be used (see above); otherwise undefined. */
export function storedRuleSet(file: string, id: string | undefined = bundledRuleSetsId, stored: URL = packageUrl(RULE_SETS_PATH)): RuleSet | undefined {
  if (id === undefined) return undefined;
  const sets = storedAt(stored);
  const entry = sets?.id === id ? sets.files[basename(file)] : undefined;
  if (!entry || entry.text !== readFileSync(file, 'utf8')) {
    debug('rule set %s: parsed (%s)', file, !sets ? 'none stored' : sets.id !== id ? 'stored by another build' : entry ? 'the file changed since the build' : 'not stored');
    return undefined;
  }
  debug('rule set %s: as the build parsed it', file);
  return { ...entry.set, file };
}
