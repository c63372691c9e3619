/**
 * What pushcheck prints on stderr about a mistake: one line, credentials masked (a `user:pass@` in a URL, a
 * --proxy password in any encoding), control characters escaped, so neither a secret nor an escape sequence from a
 * file name, a --var value or a server reaches the terminal.
 */
import { writeSync } from 'node:fs';
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
  process.stdout.on('error', stdoutFailed);
}

function stdoutFailed(err: NodeJS.ErrnoException): never {
  if (err.code === 'EPIPE') process.exit();
  printError(`cannot write to stdout (${err.code ?? 'error'})`);
  process.exit(2);
}

/**
 * `text` on stdout at once, without creating `process.stdout`: a one-line answer (`--version`) then costs no more
 * than Node's own start, as loading the stream modules behind `process.stdout` would. Errors as above.
 */
export function writeStdoutNow(text: string): void {
  let rest = Buffer.from(text);
  while (rest.length > 0) {
    try {
      rest = rest.subarray(writeSync(1, rest));
    } catch (err) {
      // A non-blocking stdout that is full for a moment: try again.
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') stdoutFailed(err as NodeJS.ErrnoException);
    }
  }
}
