/**
 * Terminal sizes as pushcheck believes them. A pseudo-terminal may say 0 × 0 (some CI wrappers, `docker run -t`
 * at first) or something absurd; either is "unknown", and the layout falls back to its defaults.
 */

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

/** A deep copy of `value` with {@link escapeControls} applied to every string in it. */
export function escapeControlsDeep<T>(value: T): T {
  return JSON.parse(JSON.stringify(value), (_key, v: unknown) => (typeof v === 'string' ? escapeControls(v) : v)) as T;
}
