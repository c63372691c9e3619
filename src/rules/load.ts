/**
 * Rule files: text → YAML document (with line numbers) → RuleSet. The fields themselves are
 * schema.ts's business; this file owns reading, YAML errors and mapping field paths to lines.
 */
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, isSeq, parseDocument, stringify, visit, type Document } from 'yaml';
import { FileError } from '../errors.js';
import type { RuleSet } from '../types.js';
import type { FieldPath } from '../fields.js';
import { keepParsed, parsedBefore } from './parsed.js';
import { toRuleSet } from './schema.js';

/** Alias expansions allowed in one file; a real rule file needs a handful, a "billion laughs" file millions. */
export const MAX_ALIAS_COUNT = 100;

/**
 * Largest rule file read: the biggest vendor table is a few KB, and 1 MB holds about 10,000 one-line rules, the
 * default --max-targets. YAML parsing alone takes seconds per megabyte (bench/rules.bench.js): past the cap a
 * clear refusal is kinder than a long wait.
 */
export const MAX_RULE_FILE_BYTES = 1024 * 1024;

export function loadRuleSetFile(path: string, options: { builtin?: boolean } = {}): RuleSet {
  let text: string;
  let regular: boolean;
  try {
    // Regular files are measured before reading; anything else (a FIFO, /dev/stdin) after.
    const stat = statSync(path);
    regular = stat.isFile();
    if (regular && stat.size > MAX_RULE_FILE_BYTES) throw tooBig(path);
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (err instanceof FileError) throw err;
    throw new FileError(path, 0, '', `cannot read the file: ${readProblem(err)}`);
  }
  if (Buffer.byteLength(text) > MAX_RULE_FILE_BYTES) throw tooBig(path);
  const builtin = options.builtin ?? false;
  // A user's file as an earlier run of this build parsed the same text (parsed.ts); a built-in one is stored.ts's.
  const kept = builtin || !regular ? undefined : parsedBefore(path, text);
  if (kept) return kept;
  const set = parseRuleSet(text, path, builtin);
  if (!builtin && regular) keepParsed(path, text, set);
  return set;
}

/** A rule set (or any plain value) as YAML again, lines unwrapped: what `pushcheck rules show` prints. */
export function toYaml(value: unknown): string {
  return stringify(value, { lineWidth: 0 });
}

function tooBig(path: string): FileError {
  return new FileError(path, 0, '', `the file is larger than ${MAX_RULE_FILE_BYTES / 1024 / 1024} MB, the most a rule file may be; split it into several rule sets`);
}

export function parseRuleSet(text: string, file: string, builtin = false): RuleSet {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number): number => lineCounter.linePos(offset).line;

  const syntax = doc.errors[0];
  if (syntax) throw new FileError(file, lineAt(syntax.pos[0]), '', `invalid YAML: ${firstLine(syntax.message)}`);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    // yaml reports alias trouble (including the exhaustion guard) as a ReferenceError.
    if (!(err instanceof ReferenceError)) throw err;
    const detail = /excessive alias count/i.test(err.message)
      ? `too many YAML alias expansions (over ${MAX_ALIAS_COUNT}); refusing a "billion laughs" file`
      : `invalid YAML alias: ${firstLine(err.message)}`;
    throw new FileError(file, firstAliasLine(doc, lineAt), '', detail);
  }
  if (data === null || data === undefined) {
    throw new FileError(file, 0, '', 'the file is empty; a rule set needs id, title and rules');
  }
  return toRuleSet(data, { file, builtin, lineOf: (path) => lineOfPath(doc, path, lineAt) });
}

/** Walks the YAML nodes along `path`; a mapping key answers with its own line, a list item with its first line. */
function lineOfPath(doc: Document, path: FieldPath, lineAt: (offset: number) => number): number {
  let node: unknown = doc.contents;
  let line = startLine(node, lineAt) ?? 1;
  for (const segment of path) {
    if (isAlias(node)) node = node.resolve(doc);
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      line = startLine(pair.key, lineAt) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      line = startLine(node, lineAt) ?? line;
    } else {
      break;
    }
  }
  return line;
}

function startLine(node: unknown, lineAt: (offset: number) => number): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? lineAt(range[0]) : undefined;
}

function firstAliasLine(doc: Document, lineAt: (offset: number) => number): number {
  let line = 0;
  visit(doc, {
    Alias(_, node) {
      line = node.range ? lineAt(node.range[0]) : 0;
      return visit.BREAK;
    },
  });
  return line;
}

function firstLine(message: string): string {
  return (message.split('\n')[0] ?? '').trim();
}

function readProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EISDIR') return 'it is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  return firstLine(err instanceof Error ? err.message : String(err));
}
