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

/** A stdout write failed: one line and exit 2, or, for a reader that went away (EPIPE), the exit code the run had. */
export function stdoutFailed(err: NodeJS.ErrnoException): never {
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

let doneOnceWritten = false;

/**
 * Says that the command's work is over once what it printed is written (`check`: the reports are out): main.ts then
 * ends the process at once instead of waiting for the event loop to empty, which after 1,000 targets also means
 * waiting for V8 to tear down a heap of about 90 MB (25 ms on a busy 2-core machine).
 */
export function doneOnceOutputWritten(): void {
  doneOnceWritten = true;
}

/** main.ts, after the program: exits with process.exitCode once stdout and stderr have taken everything, if the command said it was done. */
export function exitIfDone(): void {
  if (!doneOnceWritten) return;
  // Both streams have taken every byte and no write failed (a report file, a terminal, a pipe with room: Node writes
  // them at once on Linux): nothing to wait for, and an empty write's round trip through each stream cost 0.6 ms
  // (code that no earlier write had run). A tick later all the same, after a failure printReports tells a tick later.
  if (flushed(process.stdout) && flushed(process.stderr)) {
    process.nextTick(exitNow);
    return;
  }
  // A write's callback comes once the writes before it are flushed (a pipe whose reader is slow included). A write
  // that failed (a full disk, `> /dev/full`) hands its error to this callback before the stream emits 'error', so
  // it is told here: exiting first left a cut report and exit code 0.
  process.stdout.write('', (err) => (err ? stdoutFailed(err as NodeJS.ErrnoException) : process.stderr.write('', () => process.exit())));
}

/** Whether a stream holds no byte it has not handed to the system, and none of its writes failed. */
function flushed(stream: NodeJS.WriteStream): boolean {
  return stream.writableLength === 0 && !stream.errored;
}

function exitNow(): void {
  process.exit();
}
