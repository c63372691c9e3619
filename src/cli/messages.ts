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

/**
 * A stdout that cannot be written (`> /dev/full`, a full disk) is one line and exit 2, not a stack trace. A reader
 * that went away (`| head`) chose to stop reading: pushcheck then stops quietly, with the exit code it had.
 */
export function exitOnStdoutError(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit();
    printError(`cannot write to stdout (${err.code ?? 'error'})`);
    process.exit(2);
  });
}
