/**
 * What pushcheck prints on stderr about a mistake: one line, credentials masked (a `user:pass@` in a URL, a
 * --proxy password in any encoding), control characters escaped, so neither a secret nor an escape sequence from a
 * file name, a --var value or a server reaches the terminal.
 */
import { redactText } from '../secrets.js';
import { escapeControls } from '../terminal.js';

/** `text` as it may be printed: masked, and escaped (`lines: false` for a one-line message). */
export function printable(text: string, options: { lines?: boolean } = {}): string {
  return escapeControls(redactText(text), options);
}

/** `pushcheck: <message>` on stderr, on one line. */
export function printError(message: string): void {
  process.stderr.write(`pushcheck: ${printable(message, { lines: false })}\n`);
}
