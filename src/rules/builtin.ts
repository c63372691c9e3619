/** The rule sets shipped in the package's rules/ folder, and turning command-line names into rule sets. */
import { readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import type { RuleSet } from '../types.js';
import { loadRuleSetFile } from './load.js';

/** The package root's rules/ folder; the same relative hop works from src/rules/ and from dist/rules/. */
export function builtinRulesDir(): string {
  return fileURLToPath(new URL('../../rules/', import.meta.url));
}

let cached: RuleSet[] | undefined;

/** Every built-in rule set, sorted by id; loaded once. A broken built-in file throws (a pushcheck bug). */
export function loadBuiltinRuleSets(): RuleSet[] {
  if (!cached) {
    const dir = builtinRulesDir();
    const sets = readdirSync(dir)
      .filter((name) => /\.ya?ml$/.test(name))
      .map((name) => loadRuleSetFile(join(dir, name), { builtin: true }))
      .sort((a, b) => a.id.localeCompare(b.id));
    const seen = new Map<string, string>();
    for (const set of sets) {
      for (const name of [set.id, ...set.aliases]) {
        const owner = seen.get(name);
        if (owner) throw new Error(`built-in rule sets ${owner} and ${set.id} both answer to "${name}"`);
        seen.set(name, set.id);
      }
    }
    cached = sets;
  }
  return [...cached];
}

/**
 * Command-line names → rule sets, in the order given, each once. A name is a built-in id or alias
 * (any case), `all`, or the path of a rule file (it has a `/`, ends in .yaml/.yml, or is an existing file).
 */
export function resolveRuleSets(names: string[]): RuleSet[] {
  const builtins = loadBuiltinRuleSets();
  const chosen: RuleSet[] = [];
  const add = (set: RuleSet): void => {
    const same = chosen.find((other) => other.id === set.id);
    if (!same) chosen.push(set);
    else if (resolve(same.file) !== resolve(set.file)) {
      throw new UsageError(`rule set id "${set.id}" of ${set.file} is already the id of ${same.file}; give one of them another id`);
    }
  };
  for (const name of names) {
    const key = name.trim().toLowerCase();
    const builtin = builtins.find((set) => set.id === key || set.aliases.includes(key));
    if (key === 'all') builtins.forEach(add);
    else if (builtin) add(builtin);
    else if (looksLikePath(name)) add(loadRuleSetFile(name));
    else throw new UsageError(`unknown rule set "${name}"; valid names: ${describeNames(builtins)}, all, or the path of a rule file`);
  }
  return chosen;
}

function looksLikePath(name: string): boolean {
  if (name.includes('/') || name.includes(sep) || /\.ya?ml$/i.test(name)) return true;
  try {
    return statSync(name).isFile();
  } catch {
    return false;
  }
}

function describeNames(sets: RuleSet[]): string {
  return sets.map((set) => (set.aliases.length > 0 ? `${set.id} (${set.aliases.join(', ')})` : set.id)).join(', ');
}
