/**
 * A passphrase prompt without echo, on the terminal only: the passphrase never appears on screen, in the shell's
 * history or in the process list. Ctrl-C ends pushcheck (exit 130); Ctrl-D or an empty line gives ''.
 */
import { UsageError } from '../errors.js';

/** Whether a person can be asked: stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

export function askPassphrase(file: string): Promise<string> {
  if (!canPrompt()) {
    return Promise.reject(new UsageError(`${file}: needs a passphrase: put it in an environment variable and name it with --passphrase-env VAR`));
  }
  const stdin = process.stdin;
  return new Promise((resolve) => {
    let typed = '';
    const wasRaw = stdin.isRaw;
    // Echo off before the prompt shows: whatever is typed once it is visible never reaches the screen.
    stdin.setRawMode(true);
    process.stderr.write(`Passphrase for ${file}: `);
    stdin.resume();
    const finish = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003') {
          finish();
          process.exit(130);
        } else if (char === '\r' || char === '\n' || char === '\u0004') {
          finish();
          resolve(typed);
          return;
        } else if (char === '\u007f' || char === '\b') {
          typed = [...typed].slice(0, -1).join('');
        } else {
          typed += char;
        }
      }
    };
    stdin.on('data', onData);
  });
}
