/**
 * The two kinds of error the CLI knows how to show. Anything else is a pushcheck bug and is re-thrown
 * with its stack, so it gets reported instead of swallowed.
 */

/** The user's mistake: bad option, bad rule file, unreadable report. One line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly exitCode = 2;
}

/**
 * A mistake at a place in a file, rendered `file:line: field: message`.
 * `line` is 1-based; 0 means "the whole file".
 */
export class FileError extends UsageError {
  override name = 'FileError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}${line > 0 ? `:${line}` : ''}: ${field ? `${field}: ` : ''}${detail}`);
  }
}

export function isUsageError(err: unknown): err is UsageError {
  return err instanceof UsageError;
}
