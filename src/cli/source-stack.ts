/**
 * Stack traces of the bundled CLI, pointed back at src/ when a bug surfaces. Node's own source-map support
 * (--enable-source-maps) would do it for every error's stack, and that costs: with it on, `pushcheck demo`
 * spends so long on stack traces that its fastest probes time out. A bug is rare; map its stack then, once.
 */
import { readFileSync } from 'node:fs';
import type { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const maps = new Map<string, SourceMap | null>();

function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      // node:module only when a bug needs it: on Node 20 it loads the ES module loader, 5 million instructions
      // (valgrind), 40% of what `pushcheck --version` added to Node's own start.
      const { SourceMap } = process.getBuiltinModule('node:module');
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null; // not bundled (vitest, tsc output) or no map shipped: the frame stays as it is
    }
    maps.set(file, map);
  }
  return map;
}

/** One stack frame's `file:line:column`, mapped to the source it was built from where a map says so. */
function mapFrame(location: string, file: string, line: string, column: string): string {
  const path = file.startsWith('file://') ? fileURLToPath(file) : file;
  const entry = mapOf(path)?.findEntry(Number(line) - 1, Number(column) - 1);
  if (!entry || !('originalSource' in entry) || !entry.originalSource) return location;
  const source = entry.originalSource.startsWith('file://') ? fileURLToPath(entry.originalSource) : new URL(entry.originalSource, `file://${path}`).pathname;
  return `${source}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
}

/** Rewrites `err.stack` in place; anything that is not an Error, or has no mappable frame, is left alone. */
export function mapStack(err: unknown): void {
  if (!(err instanceof Error) || typeof err.stack !== 'string') return;
  err.stack = err.stack.replace(/((?:file:\/\/)?\/[^\s():]+\.c?js):(\d+):(\d+)/g, mapFrame);
}

/** Maps the stack of whatever ends the process uncaught, before Node prints it. */
export function mapUncaughtStacks(): void {
  process.on('uncaughtExceptionMonitor', mapStack);
}
