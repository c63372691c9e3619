/**
 * bin/pushcheck.js answers the program's own help and version from start.cjs (CommonJS, commander only for the
 * help) and hands commands to the ES module bundle; the single executable answers everything from main.ts.
 * Both must say the same, byte for byte, and the short path must stay short.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BIN, runCli, type CliOptions, type CliRun } from '../helpers/cli.js';
import { loadListPreload } from '../helpers/load-list.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { track } from '../helpers/servers.js';

const MAIN = fileURLToPath(new URL('../../dist/bundle/main.js', import.meta.url));

/** `entry` (bin/pushcheck.js or main.js) run by node: exit code, stdout and stderr. */
async function run(entry: string, args: string[], options: CliOptions = {}): Promise<Pick<CliRun, 'code' | 'stdout' | 'stderr'>> {
  const { code, stdout, stderr } = await runCli(args, { command: [process.execPath, ...(options.nodeArgs ?? []), entry], killAfterMs: 30_000, ...options });
  return { code, stdout, stderr };
}

/** The files a run loads, from Node's own module log (CommonJS requires and ES module imports). */
async function loaded(args: string[]): Promise<string> {
  // pushcheck: the code cache names each bundle it runs (src/cli/code-cache.ts).
  return (await run(BIN, args, { env: { NODE_DEBUG: 'module,esm,pushcheck' } })).stderr;
}

/**
 * Serves one loopback server (through track(), whose connections ignore their errors: a tcp check closes by a reset),
 * writes a one-rule file of `check` against it into a temporary folder, and runs `body` with the file and the
 * folder; both are gone afterwards, whatever the body did.
 */
async function withOneRule(server: net.Server, check: 'tcp' | 'http', body: (rules: string, dir: string) => Promise<void>): Promise<void> {
  const { port, close } = await track(server);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-start-'));
  try {
    const rules = writeRuleFile(path.join(dir, `${check}.yaml`), `${check}-only`, `${check.toUpperCase()} only`, [{ id: '1', host: '127.0.0.1', ports: [port], check }]);
    await body(rules, dir);
  } finally {
    await close();
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('start-up path', () => {
  // With the forms beside the help-only ones, which start.ts leaves to commander (program-help.test.ts has the stored help).
  const forms = [['--version'], ['-V'], ['--help'], ['-h'], [], ['help'], ['--version', 'extra'], ['-x'], ['--help', 'extra'], ['help', 'extra'], ['-h', '-V'], ['--helpx'], ['-hx'], ['help', 'rules'], ['rules', '--help'], ['help', 'help']];
  it.each(forms.map((args) => [args.join(' ') || '(nothing)', args] as const))(
    'pushcheck %s says what main.js says, byte for byte, with the same exit code',
    async (_label, args) => {
      const fast = await run(BIN, args);
      expect(fast).toEqual(await run(MAIN, args));
      expect(fast.stdout + fast.stderr).not.toBe('');
    },
  );

  it('--version and --help (not on a terminal) load neither commander nor the command bundle; the help on stderr loads commander only', async () => {
    for (const args of [['--version'], ['--help']]) {
      const fast = await loaded(args);
      expect(fast).toMatch(/start\.cjs/);
      expect(fast).not.toMatch(/program\.cjs|bundle\/main\.js|chunks\//);
    }
    // `pushcheck` alone: the help on stderr, which commander writes (program-help.test.ts has the stored one).
    const help = await loaded([]);
    expect(help).toMatch(/program\.cjs/);
    expect(help).not.toMatch(/bundle\/main\.js|chunks\//);
    // program.cjs through V8's code cache, as check.cjs and rules.cjs: written by a run of it that ends with 0 (the
    // help on stderr ends with 2 and writes none; `--help extra` is commander's help on stdout), used by the next.
    await run(BIN, ['--help', 'extra']);
    const cached = await run(BIN, [], { env: { NODE_DEBUG: 'pushcheck' } });
    expect(cached.code).toBe(2);
    expect(cached.stderr).toMatch(/code cache \S+program\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: used/);
    expect(await loaded(['diff', '--help'])).toMatch(/bundle\/main\.js/);
  });

  it('rules list runs rules.cjs through the code cache, loading neither main.js, YAML, cli-table3 nor node:crypto', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-start-'));
    try {
      const { preload, list } = loadListPreload(dir);
      for (const format of ['table', 'json']) {
        const out = await run(BIN, ['rules', 'list', '-f', format], { nodeArgs: ['-r', preload], env: { NODE_DEBUG: 'module,esm,pushcheck' } });
        expect(out.code, out.stderr).toBe(0);
        expect(out.stderr).toMatch(/bundle\/rules\.cjs/);
        expect(out.stderr).toMatch(/code cache \S+rules\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: (used|written|rejected by V8|made for another|damaged)/);
        expect(out.stderr).not.toMatch(/bundle\/main\.js|chunks\/|bundle\/lib\//);
        const builtins = readFileSync(list, 'utf8').split('\n');
        // What it does load is named, so that finding none of the others is not for want of looking.
        expect(builtins).toContain('NativeModule vm');
        // The stored summaries count while each rule file reads as the text stored with it: no sha256, no node:crypto.
        expect(['crypto', 'tls', 'dns', 'http', 'https', 'child_process'].filter((unused) => builtins.includes(`NativeModule ${unused}`)), format).toEqual([]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rules list from a copy of the package: the stored table while every rule file is unchanged, a parse once one changed', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-start-'));
    try {
      const root = fileURLToPath(new URL('../../', import.meta.url));
      for (const part of ['package.json', 'bin', 'rules', 'schemas', 'dist/bundle', 'dist/rule-summaries.json', 'dist/rule-sets.json']) {
        cpSync(path.join(root, part), path.join(dir, part), { recursive: true, filter: (file) => !file.endsWith('.cache') });
      }
      const bin = path.join(dir, 'bin', 'pushcheck.js');
      const list = async (format: string): Promise<string> => {
        const out = await run(bin, ['rules', 'list', '-f', format]);
        expect(out.code, out.stderr).toBe(0);
        return out.stdout;
      };
      const [table, json] = [await list('table'), await list('json')];
      expect(table).toBe((await run(BIN, ['rules', 'list'])).stdout);
      expect(table).toMatch(/moki-ios/);
      // A changed stored table shows: the copy printed what was stored, not a parse.
      const summaries = path.join(dir, 'dist', 'rule-summaries.json');
      const stored = JSON.parse(readFileSync(summaries, 'utf8')) as { table: string; summaries: Array<{ title: string }> };
      writeFileSync(summaries, JSON.stringify({ ...stored, table: `${stored.table}(stored)\n` }));
      expect(await list('table')).toBe(`${table}(stored)\n`);
      expect(await list('json')).toBe(json);
      // A rule file changed since the build (a new title): the summaries are stale, and the copy parses the rule files.
      const ios = path.join(dir, 'rules', 'moki-ios.yaml');
      const text = readFileSync(ios, 'utf8');
      writeFileSync(ios, text.replace(/^title: .*$/m, 'title: Moki iOS, retitled'));
      const retitled = await list('table');
      expect(retitled).not.toMatch(/\(stored\)/);
      expect(retitled).toMatch(/Moki iOS, retitled/);
      expect(JSON.parse(await list('json'))).toContainEqual(expect.objectContaining({ id: 'moki-ios', title: 'Moki iOS, retitled' }));
      // One byte more (a comment): still not the file summarised, so parsed; the table as the build made it.
      writeFileSync(ios, `${text}# changed\n`);
      expect(await list('table')).toBe(table);
      expect(await list('json')).toBe(json);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a check of TCP rules runs check.cjs, loading neither main.js nor a library or Node module it does not use', async () => {
    await withOneRule(net.createServer((socket) => socket.end()), 'tcp', async (rules, dir) => {
      // Node's module log names every file required or imported; moduleLoadList, every Node module loaded.
      const { preload, list } = loadListPreload(dir);
      const check = () => run(BIN, [rules, '-f', 'json'], { nodeArgs: ['-r', preload], env: { NODE_DEBUG: 'module,esm,pushcheck', XDG_CACHE_HOME: path.join(dir, 'cache') } });
      // node:tls, node:crypto and node:dns load where a probe, a --ca or a stored rule set's check needs them
      // (process.getBuiltinModule() there, no top-level import): a TCP check that names its hosts by address needs none of them, whether it parses its
      // rule file and keeps it (the first run) or uses what was kept (the next).
      const unusedLoaded = (): string[] => {
        const builtins = readFileSync(list, 'utf8').split('\n');
        rmSync(list);
        // What a TCP check does load is named, so that finding none of the others is not a list in another form.
        expect(builtins).toContain('NativeModule net');
        // On Node 20 a check sets V8 flags (src/cli/v8-flags.ts, which loads node:v8 for it), and V8 refuses Node's
        // code cache for a built-in compiled under other flags: what a TCP check uses is loaded before, so that only
        // stdout's stream (made when the report is written), commander's node:process and, in a first run that keeps
        // its parsed rule file, util's comparisons (src/rules/parsed.ts) compile from source.
        if (process.versions.v8.startsWith('11.')) {
          const flagsSet = builtins.indexOf('NativeModule v8');
          expect(flagsSet).toBeGreaterThan(-1);
          const afterFlags = builtins.slice(flagsSet + 1).filter((name) => name.startsWith('NativeModule '));
          expect(afterFlags.filter((name) => !/^NativeModule (process|internal\/fs\/sync_write_stream|tty|internal\/tty|internal\/util\/comparisons)$/.test(name))).toEqual([]);
        }
        // node:module (with Node's ES module loader and source maps) neither on Node 20: code-cache.cjs runs the bundles
        // with its own require. On 22 and later bin/pushcheck.js loads it to enable Node's compile cache.
        const moduleUnused = process.versions.node.startsWith('20.') ? ['module', 'internal/modules/esm/loader'] : [];
        return ['http2', 'https', 'http', 'fs/promises', 'child_process', 'tls', '_tls_wrap', 'crypto', 'dns', ...moduleUnused].filter((unused) => builtins.includes(`NativeModule ${unused}`));
      };
      // The first run of a rule file parses it, with YAML from lib/yaml.cjs; the next of the same text parses nothing.
      const first = await check();
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/rule file \S+: kept/);
      expect(first.stderr).not.toMatch(/bundle\/main\.js|chunks\/|bundle\/lib\/(?!yaml\.cjs)/);
      expect(unusedLoaded(), 'the first run').toEqual([]);
      const out = await check();
      expect(out.code, out.stderr).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ summary: { total: 1, passed: 1 } });
      expect(out.stderr).toMatch(/code-cache\.cjs/);
      expect(out.stderr).toMatch(/code cache \S+check\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: (used|rejected by V8|made for another|damaged)|code cache \S+: written/);
      expect(out.stderr).toMatch(/rule file \S+: as parsed before/);
      expect(out.stderr).not.toMatch(/bundle\/main\.js|chunks\/|bundle\/lib\//);
      expect(unusedLoaded(), 'the second run').toEqual([]);
    });
  });

  it('the bundles a check runs import Node built-ins by name: a default import copies the module into an object of getters', () => {
    // esbuild turns `import net from 'node:net'` into __toESM(require('node:net')), which defines a getter for each of
    // the module's exports whenever the importing module initialises (nine times before a check's first connect);
    // `import { Socket } from 'node:net'` into a plain require. node:tls and node:http2 are imported so by
    // src/credentials/live.ts, which a TCP check does not initialise (the test above: it loads neither).
    const defaultImported = (bundle: string): string[] =>
      [...readFileSync(fileURLToPath(new URL(`../../dist/bundle/${bundle}`, import.meta.url)), 'utf8').matchAll(/__toESM\(require\("node:([\w/]+)"\)/g)].map((m) => m[1] as string).sort();
    expect(defaultImported('start.cjs')).toEqual([]);
    expect(defaultImported('code-cache.cjs')).toEqual([]);
    expect(defaultImported('check.cjs')).toEqual(['http2', 'tls']);
  });

  it('--version says package.json\'s version, which the build stored, and a check of a user\'s rule file reads no file of the package', async () => {
    const packageJson = fileURLToPath(new URL('../../package.json', import.meta.url));
    const { version } = JSON.parse(readFileSync(packageJson, 'utf8')) as { version: string };
    expect(await run(BIN, ['--version'])).toMatchObject({ code: 0, stdout: `${version}\n` });
    await withOneRule(net.createServer((socket) => socket.end()), 'tcp', async (rules, dir) => {
      // Every look at package.json, and every pathToFileURL (the bundles' import.meta.url), on stderr at exit: the
      // package root is found on first use (src/package-root.ts) and the version is the build's (src/version.ts).
      const preload = path.join(dir, 'package-reads.cjs');
      writeFileSync(
        preload,
        `const fs = require('node:fs'); const url = require('node:url'); const seen = [];
        for (const name of ['readFileSync', 'existsSync', 'statSync']) { const f = fs[name]; fs[name] = function (p, ...rest) { if (String(p).endsWith('package.json')) seen.push(name); return f.call(this, p, ...rest); }; }
        const toUrl = url.pathToFileURL; url.pathToFileURL = function (...args) { seen.push('pathToFileURL'); return toUrl.apply(this, args); };
        process.on('exit', () => fs.writeSync(2, 'PACKAGE READS ' + JSON.stringify(seen) + '\\n'));`,
      );
      const out = await run(BIN, [rules, '-f', 'json'], { nodeArgs: ['-r', preload], env: { XDG_CACHE_HOME: path.join(dir, 'cache') } });
      expect(out.code, out.stderr).toBe(0);
      expect(JSON.parse(out.stdout)).toMatchObject({ tool: { version }, summary: { total: 1, passed: 1 } });
      expect(out.stderr).toContain('PACKAGE READS []');
    });
  });

  it('a check loads chalk and cli-table3 (bundle/lib/) for the table format only: -f json and -f junit load neither', async () => {
    await withOneRule(net.createServer((socket) => socket.end()), 'tcp', async (rules, dir) => {
      const librariesLoaded = async (format: string): Promise<string[]> => {
        const out = await run(BIN, [rules, '-f', format], { env: { NODE_DEBUG: 'module,esm,pushcheck', XDG_CACHE_HOME: path.join(dir, 'cache') } });
        expect(out.code, out.stderr).toBe(0);
        return ['chalk', 'cli-table3'].filter((name) => new RegExp(`bundle/lib/${name}[.-]`).test(out.stderr));
      };
      expect(await librariesLoaded('json')).toEqual([]);
      expect(await librariesLoaded('junit')).toEqual([]);
      // The table does load them: finding neither for the others is not for want of looking in the right place.
      expect(await librariesLoaded('table')).toEqual(['chalk', 'cli-table3']);
    });
  });

  it("a check's code cache serves the next check: V8 flags are set before check.cjs compiles (src/cli/v8-flags.ts)", async () => {
    await withOneRule(net.createServer((socket) => socket.end()), 'tcp', async (rules) => {
      // The first run writes the cache unless one fits; a flag set after compiling (as main.ts once did on Node 20)
      // made V8 refuse every cache, so each run compiled the whole bundle again and wrote a new cache.
      const first = await run(BIN, [rules, '-f', 'json'], { env: { NODE_DEBUG: 'pushcheck' } });
      expect(first.code, first.stderr).toBe(0);
      const second = await run(BIN, [rules, '-f', 'json'], { env: { NODE_DEBUG: 'pushcheck' } });
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/code cache \S+check\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: used/);
      expect(second.stderr).not.toMatch(/rejected by V8|: written/);
    });
  });

  it("a library that a check and the rules command both load (yaml) keeps a code cache for each, used in turns (V8's flags)", async () => {
    await withOneRule(net.createServer((socket) => socket.end()), 'tcp', async (rules, dir) => {
      // On Node 20 a check changes V8 flags and the rules command does not (src/cli/v8-flags.ts); V8 refuses a cache
      // made under other flags, and one file for both made every switch compile yaml again and rewrite its cache.
      // A cache folder of its own for each run: the rule file is not found as parsed before, so each run loads yaml.
      let runs = 0;
      const yamlCache = async (args: string[]): Promise<string[]> => {
        const out = await run(BIN, args, { env: { NODE_DEBUG: 'pushcheck', XDG_CACHE_HOME: path.join(dir, `cache${(runs += 1)}`) } });
        expect(out.code, out.stderr).toBe(0);
        return [...out.stderr.matchAll(/code cache \S+bundle\/lib\/yaml\.cjs\.v[\d.]+-\w+(?:-[0-9a-f]+)?\.cache: ([a-z ]+)/g)].map((event) => event[1]!.trim());
      };
      const check = [rules, '-f', 'json'];
      const validate = ['rules', 'validate', rules];
      // The first of each kind may write its cache; after them, every run uses the one of its kind.
      await yamlCache(check);
      await yamlCache(validate);
      for (const args of [check, validate, check, validate]) expect(await yamlCache(args), args.join(' ')).toEqual(['used']);
    });
  });

  it('an http check loads undici from dist/bundle/lib/ (through the code cache) when it needs it, and passes as from main.js', async () => {
    await withOneRule(http.createServer((req, res) => res.end('ok')), 'http', async (rules) => {
      const out = await run(BIN, [rules, '-f', 'json'], { env: { NODE_DEBUG: 'pushcheck' } });
      expect(out.code, out.stderr).toBe(0);
      // Through the code cache, as check.cjs is (src/cli/code-cache.ts): written by the first run, used by the next.
      expect(out.stderr).toMatch(/code cache \S+bundle\/lib\/undici\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: (written|used)/);
      expect(JSON.parse(out.stdout)).toMatchObject({ summary: { total: 1, passed: 1 }, results: [{ check: 'http', status: 'pass', http: { status: 200 } }] });
    });
  });

  it.each(['--version', '--help'])('%s to a stdout that cannot be written (> /dev/full) is one line and exit 2, as from main.js', (arg) => {
    const full = openSync('/dev/full', 'w');
    try {
      for (const entry of [BIN, MAIN]) {
        const out = spawnSync(process.execPath, [entry, arg], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 30_000 });
        expect({ entry, status: out.status, stderr: out.stderr }).toEqual({ entry, status: 2, stderr: 'pushcheck: cannot write to stdout (ENOSPC)\n' });
      }
    } finally {
      closeSync(full);
    }
  });
});
