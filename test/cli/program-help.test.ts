/**
 * `pushcheck --help` (`-h`, `help`) prints the program's help as commander wrote it when the bundles were built
 * (scripts/bundle.mjs, src/cli/start.ts), without loading commander, wherever commander would write the same; anywhere
 * else commander writes it. Compared here with commander's own rendering of the program in src/ (run in this process),
 * so a build older than src/ fails too, and with the same build's commander path (main.js). start.test.ts holds
 * every other argument form, and a stdout that cannot be written, to what main.js says.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, runCli, runInProcess, type InProcessRun } from '../helpers/cli.js';
import { loadListPreload } from '../helpers/load-list.js';
import { inTerminal } from '../helpers/terminal.js';
import { hasTool } from '../helpers/tools.js';

const MAIN = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));
const FORMS = [['--help'], ['-h'], ['help']];
const hasScript = hasTool('script', ['--version'], 'the help on a terminal: util-linux `script` is not installed, so no pseudo-terminal can be made');

let dir: string;
let preload: string;
let loadList: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-help-'));
  // What Node loaded, written at exit: its built-in modules (the stream modules among them).
  ({ preload, list: loadList } = loadListPreload(dir));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * commander's help for `args`, run in this process on the program in src/, for a stdout that is not a terminal or is
 * one of `columns` columns (what commander reads of it: isTTY and columns).
 */
async function commanderHelp(args: string[], { columns, env }: { columns?: number; env?: NodeJS.ProcessEnv } = {}): Promise<InProcessRun> {
  const saved = { isTTY: Object.getOwnPropertyDescriptor(process.stdout, 'isTTY'), columns: Object.getOwnPropertyDescriptor(process.stdout, 'columns') };
  Object.defineProperty(process.stdout, 'isTTY', { value: columns !== undefined, configurable: true, writable: true });
  Object.defineProperty(process.stdout, 'columns', { value: columns, configurable: true, writable: true });
  try {
    return await runInProcess(args, { env });
  } finally {
    for (const [name, descriptor] of Object.entries(saved)) {
      if (descriptor) Object.defineProperty(process.stdout, name, descriptor);
      else delete (process.stdout as unknown as Record<string, unknown>)[name];
    }
  }
}

/** The built CLI with stdout into `stdout` (a file descriptor): exit code, stderr, and the built-in modules it loaded. */
function runInto(stdout: number, args: string[], env: NodeJS.ProcessEnv = {}): { code: number | null; stderr: string; modules: string } {
  const run = spawnSync(process.execPath, ['-r', preload, BIN, ...args], { stdio: ['ignore', stdout, 'pipe'], encoding: 'utf8', env: { ...process.env, ...env }, timeout: 30_000 });
  return { code: run.status, stderr: run.stderr, modules: readFileSync(loadList, 'utf8') };
}

describe('the program help as the build stored it', () => {
  it.each(FORMS.map((args) => [args.join(' '), args] as const))('pushcheck %s: commander\'s text for the program in src/, exit 0, nothing on stderr', async (_label, args) => {
    const expected = await commanderHelp(args);
    expect(expected).toMatchObject({ code: 0, stderr: '' });
    expect(expected.stdout).toMatch(/^Usage: pushcheck \[options\] \[command\]\n/);
    const built = await runCli(args);
    expect({ code: built.code, stdout: built.stdout, stderr: built.stderr }).toEqual({ code: 0, stdout: expected.stdout, stderr: '' });
  });

  it.each([{ FORCE_COLOR: '1' }, { FORCE_COLOR: '3' }, { NO_COLOR: '1' }, { CLICOLOR_FORCE: '1' }, { FORCE_COLOR: '0' }])('with %o: the text commander writes then, and what main.js writes', async (env) => {
    const built = await runCli(['--help'], { env });
    expect(built.stdout).toBe((await commanderHelp(['--help'], { env })).stdout);
    const viaCommander = await runCli(['--help'], { env, command: [process.execPath, MAIN] });
    expect(built).toMatchObject({ code: viaCommander.code, stdout: viaCommander.stdout, stderr: viaCommander.stderr });
  });

  it('into a pipe, a file or /dev/null: neither commander (program.cjs) nor Node\'s stream modules are loaded', async () => {
    const expected = (await commanderHelp(['--help'])).stdout;
    const file = path.join(dir, 'help.txt');
    const targets: Array<[string, () => number]> = [
      ['a file', () => openSync(file, 'w')],
      ['/dev/null', () => openSync('/dev/null', 'w')],
    ];
    for (const [label, open] of targets) {
      const fd = open();
      const run = runInto(fd, ['--help'], { NODE_DEBUG: 'pushcheck' });
      closeSync(fd);
      expect(run.code, label).toBe(0);
      // NODE_DEBUG=pushcheck: the code cache says when it runs program.cjs (src/cli/code-cache.ts).
      expect(run.stderr, label).toBe('');
      expect(run.modules, label).not.toMatch(/^NativeModule (stream|net|tty|vm)$/m);
    }
    expect(readFileSync(file, 'utf8')).toBe(expected);
    const piped = spawnSync(process.execPath, ['-r', preload, BIN, '--help'], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'pushcheck' }, timeout: 30_000 });
    expect({ code: piped.status, stdout: piped.stdout, stderr: piped.stderr }).toEqual({ code: 0, stdout: expected, stderr: '' });
    expect(readFileSync(loadList, 'utf8')).not.toMatch(/^NativeModule (stream|net|tty|vm)$/m);
    // The control: the program's help on stderr (no arguments) is commander's, run from program.cjs. It ends with 2,
    // which writes no code cache, so one is written first (`--help extra`, commander's help on stdout, ends with 0):
    // the debug log names a cache only where there is one.
    const devNull = openSync('/dev/null', 'w');
    runInto(devNull, ['--help', 'extra']);
    const bare = runInto(devNull, [], { NODE_DEBUG: 'pushcheck' });
    closeSync(devNull);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/code cache \S+program\.cjs/);
  });
});

describe.skipIf(!hasScript)('the program help on a terminal', () => {
  /** What the terminal showed, without the code cache's NODE_DEBUG lines, in the CLI's own line ends. */
  const shown = (output: string): string => output.replace(/\r\n/g, '\n').replace(/^PUSHCHECK \S+: .*\n/gm, '');

  it('of the stored width (80 columns): the stored text, commander not loaded', async () => {
    const run = await inTerminal(['--help'], 'cols 80 rows 40', 20_000, { extraEnv: { NODE_DEBUG: 'pushcheck' } });
    expect(run.code).toBe(0);
    expect(run.output).not.toMatch(/code cache/);
    expect(shown(run.output)).toBe((await commanderHelp(['--help'], { columns: 80 })).stdout);
  });

  it.each([60, 100, 132])('of %i columns: commander\'s text for that width, from program.cjs', async (columns) => {
    const run = await inTerminal(['--help'], `cols ${columns} rows 40`, 20_000, { extraEnv: { NODE_DEBUG: 'pushcheck' } });
    expect(run.code).toBe(0);
    expect(run.output).toMatch(/code cache \S+program\.cjs/);
    const expected = (await commanderHelp(['--help'], { columns })).stdout;
    expect(expected).not.toBe((await commanderHelp(['--help'])).stdout);
    expect(shown(run.output)).toBe(expected);
  });
});
