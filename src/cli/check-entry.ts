/**
 * check.cjs's entry (scripts/bundle.mjs): the CLI as main.ts runs it, and what code-cache.ts calls before it takes
 * the code cache at the end of a first run.
 */
import { readFileSync } from 'node:fs';
import './main.js';
import { builtinNames } from '../rules/builtin.js';
import { parseRuleSet } from '../rules/load.js';

/**
 * Compiles what a run of another kind would: `pushcheck ios` parses no YAML (its rule sets are stored at build time),
 * a run of the user's own rule file does, and a cache without the YAML parser cost such runs about 20 ms at load 10.
 */
export function warmCodeCache(): void {
  const [first] = builtinNames();
  if (first) parseRuleSet(readFileSync(first.file, 'utf8'), first.file, true);
}
