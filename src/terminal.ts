/**
 * Terminal sizes as pushcheck believes them. A pseudo-terminal may say 0 × 0 (some CI wrappers, `docker run -t`
 * at first) or something absurd; either is "unknown", and the layout falls back to its defaults.
 */
import { unchangedByJson } from './json-unchanged.js';

/** Larger than any real terminal. */
const MAX_TERMINAL_SIZE = 10_000;

/** `size` when it is a believable number of columns or rows; undefined for 0, negatives, NaN or absurd sizes. */
export function knownTerminalSize(size: unknown): number | undefined {
  return typeof size === 'number' && Number.isInteger(size) && size > 0 && size <= MAX_TERMINAL_SIZE ? size : undefined;
}

// C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), and the bidirectional overrides that
// reorder what a reader sees. ESC [31m recolours a terminal and ESC ] 0 ; … BEL retitles its window.
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_AND_LINE_BREAKS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * Text from outside (a certificate's issuer, a proxy's status line, a saved report, a file name) made safe to
 * print on a terminal: every control character is shown escaped (`\x1b`, `\x07`, `\u202e`) instead of obeyed.
 * With `lines: false` (one-line messages) newlines and tabs are escaped too.
 */
export function escapeControls(text: string, options: { lines?: boolean } = {}): string {
  return text.replace(options.lines === false ? CONTROLS_AND_LINE_BREAKS : CONTROLS, (ch) => {
    const code = ch.charCodeAt(0);
    return NAMED[ch] ?? (code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16)}`);
  });
}

/** Whether text holds a character escapeControls escapes (no `g` flag: `test` keeps no position). */
const HAS_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/**
 * `value` as JSON would copy it, with {@link escapeControls} applied to every string in it: `value` itself when the
 * copy could differ in nothing (no string holds a control character, see json-unchanged.ts), else a deep copy in
 * which only the strings that need it are made anew. A walk of our own: JSON's round trip with a reviver, one call
 * per value, cost the table about 0.1 ms a result.
 */
export function escapeControlsDeep<T>(value: T): T {
  return unchangedByJson(value, hasNoControl) ? value : (copyEscaped(value) as T);
}

const hasNoControl = (text: string): boolean => !HAS_CONTROL.test(text);

function copyEscaped(value: unknown): unknown {
  if (typeof value === 'string') return HAS_CONTROL.test(value) ? escapeControls(value) : value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value === null || typeof value !== 'object') return value;
  const json = (value as { toJSON?: () => unknown }).toJSON;
  if (typeof json === 'function') return copyEscaped(json.call(value));
  if (Array.isArray(value)) {
    return value.map((item) => (item === undefined || typeof item === 'function' || typeof item === 'symbol' ? null : copyEscaped(item)));
  }
  const copy: Record<string, unknown> = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined && typeof item !== 'function' && typeof item !== 'symbol') copy[key] = copyEscaped(item);
  }
  return copy;
}

/** A line drawn and redrawn on stderr while pushcheck works: the check's spinner. */
export interface StatusLine {
  clear(): void;
  render(): void;
}

/** On the process object: every bundle of the process (check.cjs, main.js) sees the one line shown. */
const STATUS_LINE = Symbol.for('pushcheck.statusLine');
type WithStatusLine = { [STATUS_LINE]?: StatusLine };

/** Notes `line` as shown on stderr, until the function returned is called. */
export function showStatusLine(line: StatusLine): () => void {
  (process as WithStatusLine)[STATUS_LINE] = line;
  return () => {
    if ((process as WithStatusLine)[STATUS_LINE] === line) delete (process as WithStatusLine)[STATUS_LINE];
  };
}

/**
 * Runs `work`, which may write to stderr beneath process.stderr, with the status line cleared before and drawn again
 * after, so that what it writes starts a line of its own. ora keeps its line apart from what goes through
 * process.stderr, not from what Node writes itself: Node 22 and later read NODE_EXTRA_CA_CERTS at the first TLS
 * context and print a warning about it from C++, which landed after the spinner's text, on its line.
 */
export function besideStatusLine<T>(work: () => T): T {
  const line = (process as WithStatusLine)[STATUS_LINE];
  if (!line) return work();
  line.clear();
  try {
    return work();
  } finally {
    line.render();
  }
}
