/**
 * A small library for validating plain data read from a file (YAML, JSON): typed readers that fail with a FileError
 * naming the file, line and field (`file:line: rules[2].ports: …`), and a "did you mean" for a misspelt key.
 * Knows nothing of rule files: rules/schema.ts builds on it, and so does each probe kind's own YAML section.
 */
import { FileError, UsageError } from './errors.js';

/** Keys and indices from the document root, e.g. ['rules', 2, 'ports', 1]. */
export type FieldPath = ReadonlyArray<string | number>;

export interface Source {
  file: string;
  builtin: boolean;
  /** 1-based line of the value (for a mapping key: of the key) at `path`, or of its nearest existing parent. */
  lineOf(path: FieldPath): number;
}

/** `['rules', 2, 'ports', 1]` → `rules[2].ports[1]`. */
export function formatPath(path: FieldPath): string {
  return path.map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join('');
}

/** Typed readers that fail with the field's path and line. */
export class Fields {
  constructor(protected readonly src: Source) {}

  lineOf(path: FieldPath): number {
    return this.src.lineOf(path);
  }

  fail(path: FieldPath, detail: string): never {
    throw new FileError(this.src.file, this.src.lineOf(path), formatPath(path), detail);
  }

  /** Runs a shared parser (which throws UsageError) and re-raises its complaint at `path`. */
  at<T>(path: FieldPath, parse: () => T): T {
    try {
      return parse();
    } catch (err) {
      if (err instanceof UsageError && !(err instanceof FileError)) this.fail(path, err.message);
      throw err;
    }
  }

  mapping(value: unknown, path: FieldPath, keys: readonly string[], required: readonly string[]): Record<string, unknown> {
    if (!isMapping(value)) this.fail(path, `expected a mapping, got ${describe(value)}`);
    for (const key of Object.keys(value)) {
      if (!keys.includes(key)) this.fail([...path, key], unknownKey(key, keys));
    }
    for (const key of required) {
      if (value[key] === undefined) this.fail([...path, key], 'required key is missing');
      if (value[key] === null) this.fail([...path, key], 'is empty; a value is required');
    }
    return value;
  }

  /** A list; a single scalar stands for a one-item list, and an absent or empty value for []. */
  list(value: unknown, path: FieldPath): unknown[] {
    if (value === undefined || value === null) return [];
    if (Array.isArray(value)) return value;
    if (isMapping(value)) this.fail(path, 'expected a list, got a mapping');
    return [value];
  }

  string(value: unknown, path: FieldPath): string {
    if (typeof value !== 'string') this.fail(path, `expected text, got ${describe(value)}`);
    const text = value.trim();
    if (text === '') this.fail(path, 'is empty');
    return text;
  }

  boolean(value: unknown, path: FieldPath): boolean {
    if (typeof value !== 'boolean') this.fail(path, `expected true or false, got ${describe(value)}`);
    return value;
  }

  oneOf<T extends string>(value: unknown, path: FieldPath, allowed: readonly T[], what: string): T {
    if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
      const shown = typeof value === 'string' ? `"${value}"` : describe(value);
      this.fail(path, `${shown} is not a valid ${what}; expected ${allowed.join(', ')}`);
    }
    return value as T;
  }

  integer(value: unknown, path: FieldPath, min: number, max: number, what: string): number {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(path, `${typeof value === 'number' ? value : describe(value)} is not ${what} (a whole number ${min}-${max})`);
    }
    return value;
  }

  date(value: unknown, path: FieldPath): string {
    const text = typeof value === 'string' ? value.trim() : '';
    const parsed = new Date(`${text}T00:00:00Z`);
    if (!/^\d{4}-\d{2}-\d{2}$/.test(text) || Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== text) {
      this.fail(path, `${typeof value === 'string' ? `"${value}"` : describe(value)} is not a date like 2021-03-31`);
    }
    return text;
  }
}

export function isMapping(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function describe(value: unknown): string {
  if (value === undefined || value === null) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `text "${value}"`;
  if (typeof value === 'boolean') return `${value}`;
  return `the number ${String(value)}`;
}

/** The candidate a misspelt `word` most likely meant: within two edits, else undefined. */
export function nearest(word: string, candidates: readonly string[]): string | undefined {
  let near: string | undefined;
  let best = 3; // suggest only close misspellings
  for (const candidate of candidates) {
    const distance = editDistance(candidate.toLowerCase(), word.toLowerCase());
    if (distance < best) [near, best] = [candidate, distance];
  }
  return near;
}

function unknownKey(key: string, allowed: readonly string[]): string {
  const near = nearest(key, allowed);
  return near ? `unknown key "${key}"; did you mean "${near}"?` : `unknown key "${key}"; allowed: ${allowed.join(', ')}`;
}

/** Edits (insert, delete, substitute, swap two neighbours) from a to b; a swap counts once, as typos go. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => d[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = value;
    }
  }
  return at(a.length, b.length);
}

/** "a" or "an" before a name (a check, a url scheme), read as letters where it is an initialism: an http, a tls, an mqtt. */
export function article(name: string): 'a' | 'an' {
  return /^[aefhilmnorsx]/i.test(name) ? 'an' : 'a';
}

/** `a`, `a or b`, `a, b or c`. */
export function orList(items: readonly string[]): string {
  return items.length <= 2 ? items.join(' or ') : `${items.slice(0, -1).join(', ')} or ${items[items.length - 1]}`;
}
