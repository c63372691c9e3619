/** The rule sets shipped in the package's rules/ folder, and turning command-line names into rule sets. */
import { nearest } from '../fields.js';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '../errors.js';
import type { RuleSet } from '../types.js';
import { loadRuleSetFile, parseRuleSet } from './load.js';
import { countTargets } from './expand.js';
import { packageUrl } from '../package-root.js';
import { isRuleFileName, type RuleSetSummary } from './summaries.js';
import { storedRuleSet } from './stored.js';

/** The package root's rules/ folder. */
export function builtinRulesDir(): string {
  return fileURLToPath(packageUrl('rules/'));
}

/** A built-in rule set's names, read from its file's top-level `id:` and `aliases: [...]` lines without parsing it. */
export interface BuiltinName {
  id: string;
  aliases: string[];
  file: string;
}

let index: BuiltinName[] | undefined;
const loaded = new Map<string, RuleSet>();
/** Each built-in file's text as builtinNames read it: the set loaded from it is compared with or parsed from it, not read again. */
const texts = new Map<string, string>();

/**
 * The built-in rule sets' names, sorted by id. Reading two header lines instead of parsing seven YAML files keeps
 * `pushcheck ios` from paying for the other six (a test holds this index to the parsed files).
 */
export function builtinNames(): BuiltinName[] {
  if (!index) {
    const dir = builtinRulesDir();
    const names = readdirSync(dir)
      .filter(isRuleFileName)
      .map((name) => namesOf(join(dir, name)))
      // Code-unit order, not localeCompare: its first call loads ICU's collation, 5–50 ms of every run's start.
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const seen = new Map<string, string>();
    for (const set of names) {
      for (const name of [set.id, ...set.aliases]) {
        const owner = seen.get(name);
        if (owner) throw new Error(`built-in rule sets ${owner} and ${set.id} both answer to "${name}"`);
        seen.set(name, set.id);
      }
    }
    index = names;
  }
  return index;
}

function namesOf(file: string): BuiltinName {
  const text = readFileSync(file, 'utf8');
  texts.set(file, text);
  const id = /^id:[ \t]*([\w.-]+)[ \t]*$/m.exec(text)?.[1];
  const aliases = /^aliases:[ \t]*\[([^\]\n]*)\][ \t]*$/m.exec(text)?.[1];
  if (id === undefined) {
    // Written some other way: parse it (still correct, only slower).
    const set = loadBuiltin(file);
    return { id: set.id, aliases: set.aliases, file };
  }
  return { id, aliases: aliases === undefined ? [] : aliases.split(',').map((a) => a.trim()).filter(Boolean), file };
}

function loadBuiltin(file: string): RuleSet {
  let set = loaded.get(file);
  if (!set) {
    // As the build parsed it, while the file is unchanged (stored.ts): YAML and schema cost more than the rest of a start.
    const text = texts.get(file) ?? readFileSync(file, 'utf8');
    set = storedRuleSet(file, text) ?? parseRuleSet(text, file, true);
    loaded.set(file, set);
  }
  return set;
}

/** Every built-in rule set, sorted by id; each file parsed once. A broken built-in file throws (a pushcheck bug). */
export function loadBuiltinRuleSets(): RuleSet[] {
  return builtinNames().map((entry) => loadBuiltin(entry.file));
}

/** Every built-in rule set parsed and summarised, in `rules list` order (what summaries.ts stores at build time). */
export function builtinSummaries(): RuleSetSummary[] {
  return loadBuiltinRuleSets().map(summaryOf);
}

/** A rule set's row in `rules list`. */
export function summaryOf(set: RuleSet): RuleSetSummary {
  return { id: set.id, aliases: set.aliases, title: set.title, rules: set.rules.length, targets: countTargets(set, {}) };
}

/**
 * Command-line names → rule sets, in the order given, each once. A name is a built-in id or alias
 * (any case), `all`, or the path of a rule file (it has a `/`, ends in .yaml/.yml, or is an existing file).
 */
export function resolveRuleSets(names: string[]): RuleSet[] {
  // No built-in name holds a path separator (their ids and aliases may not): a run of rule files only does not read
  // the seven built-in files for their names (about 2 ms of its start).
  let builtins: BuiltinName[] | undefined;
  const chosen: RuleSet[] = [];
  const add = (set: RuleSet): void => {
    const same = chosen.find((other) => other.id === set.id);
    if (!same) chosen.push(set);
    else if (resolve(same.file) !== resolve(set.file)) {
      throw new UsageError(`rule set id "${set.id}" of ${set.file} is already the id of ${same.file}; give one of them another id`);
    }
  };
  for (const name of names) {
    if (hasSeparator(name)) {
      add(loadRuleSetFile(name));
      continue;
    }
    builtins ??= builtinNames();
    const key = name.trim().toLowerCase();
    const builtin = builtins.find((set) => set.id === key || set.aliases.includes(key));
    if (key === 'all') loadBuiltinRuleSets().forEach(add);
    else if (builtin) add(loadBuiltin(builtin.file));
    else if (looksLikePath(name)) add(loadRuleSetFile(name));
    else {
      const near = nearest(key, [...builtins.flatMap((set) => [set.id, ...set.aliases]), 'all']);
      const guess = near ? ` did you mean "${near}"?` : '';
      throw new UsageError(`unknown rule set "${name}";${guess} valid names: ${describeNames(builtins)}, all, or the path of a rule file`);
    }
  }
  return chosen;
}

function hasSeparator(name: string): boolean {
  return name.includes('/') || name.includes(sep);
}

function looksLikePath(name: string): boolean {
  if (hasSeparator(name) || /\.ya?ml$/i.test(name)) return true;
  try {
    return statSync(name).isFile();
  } catch {
    return false;
  }
}

function describeNames(sets: BuiltinName[]): string {
  return sets.map((set) => (set.aliases.length > 0 ? `${set.id} (${set.aliases.join(', ')})` : set.id)).join(', ');
}
