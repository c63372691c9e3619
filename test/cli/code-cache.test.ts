/**
 * The code cache of the CommonJS bundles check.cjs, rules.cjs and program.cjs (src/cli/code-cache.ts, built as
 * dist/bundle/code-cache.cjs): a cache that is missing, damaged, made for another file or Node, or refused by V8 is
 * ignored and written again, and the module runs the same either way. Exercised on a small CommonJS file of the test's own, in a child process as bin/ runs it.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { outsideAsciiOnlyInClosingLicence } from '../helpers/one-byte.js';

const CODE_CACHE = fileURLToPath(new URL('../../dist/bundle/code-cache.cjs', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-code-cache-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Functions that run, so the cache taken after the run holds more than the top level.
const APP = `
const path = require('node:path');
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
const words = ['code', 'cache'].map((w) => w.toUpperCase());
const exportsIsModuleExports = exports === module.exports && this === exports;
module.exports = { fib };
console.log(JSON.stringify({ file: path.basename(__filename), dirname: __dirname === path.dirname(__filename), fib: fib(15), words, exports: exportsIsModuleExports }));
process.exitCode = Number(process.env.APP_EXIT ?? 0);
`;

let count = 0;
/** A fresh copy of the app in a folder of its own, with its own user cache folder. */
function app(source = APP): { file: string; cacheHome: string } {
  const home = path.join(dir, `case${(count += 1)}`);
  mkdirSync(home);
  const file = path.join(home, 'app.cjs');
  writeFileSync(file, source);
  return { file, cacheHome: path.join(home, 'xdg') };
}

function run(target: { file: string; cacheHome: string }, env: NodeJS.ProcessEnv = {}, script = `require(${JSON.stringify(CODE_CACHE)}).requireWithCodeCache(${JSON.stringify(target.file)})`) {
  const out = spawnSync(process.execPath, ['-e', script], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_DEBUG: 'pushcheck', NODE_DISABLE_COMPILE_CACHE: '', XDG_CACHE_HOME: target.cacheHome, ...env },
  });
  const events = out.stderr.split('\n').filter((line) => /code cache/.test(line)).map((line) => line.replace(/^PUSHCHECK \d+: code cache /, ''));
  return { code: out.status, stdout: out.stdout, events, stderr: out.stderr };
}

/** This Node's cache file name beside the file it was made from, and the same as a regular expression. */
const OWN = `.${process.version}-${process.arch}.cache`;
const OWN_RE = OWN.replaceAll('.', '\\.');

/** Ways a cache file goes wrong: what is done to its bytes, and what the code cache says of the result. */
const DAMAGES: Array<[label: string, damage: (bytes: Buffer) => Buffer, event: string]> = [
  ['a flipped byte', (bytes) => Buffer.concat([bytes.subarray(0, -10), Buffer.from([bytes[bytes.length - 10]! ^ 0xff]), bytes.subarray(-9)]), 'damaged (checksum), ignored'],
  ['cut short', (bytes) => bytes.subarray(0, Math.floor(bytes.length / 2)), 'damaged (checksum), ignored'],
  ['empty', () => Buffer.alloc(0), 'made for another file or Node, ignored'],
  ['made by another Node', (bytes) => Buffer.from(bytes.toString('latin1').replace(process.version, 'v0.0.0'), 'latin1'), 'made for another file or Node, ignored'],
];

const EXPECTED = `${JSON.stringify({ file: 'app.cjs', dirname: true, fib: 610, words: ['CODE', 'CACHE'], exports: true })}\n`;

describe('the code cache', () => {
  it('is written beside the file after a run that exits 0 or 1, then used; the output is the same', () => {
    const target = app();
    const first = run(target);
    expect(first).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(first.events).toEqual([expect.stringMatching(new RegExp(`^${target.file}${OWN_RE}: written \\(\\d+ bytes\\)$`))]);
    const second = run(target);
    expect(second).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(second.events).toEqual([`${target.file}${OWN}: used`]);
    expect(run(target, { APP_EXIT: '1' }).events).toEqual([`${target.file}${OWN}: used`]);
  });

  it("starts V8's data on an 8-byte boundary of the file, which V8 would otherwise copy before deserializing it", () => {
    const target = app();
    run(target);
    const own = readFileSync(`${target.file}${OWN}`);
    expect((own.indexOf(10) + 1) % 8).toBe(0);
    expect(run(target)).toMatchObject({ code: 0, stdout: EXPECTED, events: [`${target.file}${OWN}: used`] });
  });

  it('of a file longer than its cache (read into the buffer the text was read into): used, and caught when damaged or cut', () => {
    // The app's own cache is longer than its text, so the cases above read it into a buffer of its own.
    const target = app(`${APP}/* ${'padding '.repeat(20_000)}*/\n`);
    expect(run(target).events).toEqual([expect.stringMatching(/: written \(\d+ bytes\)$/)]);
    const place = `${target.file}${OWN}`;
    expect(readFileSync(place).length).toBeLessThan(readFileSync(target.file).length);
    expect(run(target)).toMatchObject({ code: 0, stdout: EXPECTED, events: [`${place}: used`] });
    const good = readFileSync(place);
    for (const [, damage, event] of DAMAGES) {
      writeFileSync(place, damage(good));
      expect(run(target)).toMatchObject({ code: 0, stdout: EXPECTED, events: [`${place}: ${event}`, expect.stringMatching(/: written \(\d+ bytes\)$/)] });
    }
    expect(run(target).events).toEqual([`${place}: used`]);
  });

  it('runs a file once however often it is required, and hands back the same exports (check.cjs requires each library from several modules)', () => {
    const target = app();
    const script = `const { requireWithCodeCache } = require(${JSON.stringify(CODE_CACHE)}); const file = ${JSON.stringify(target.file)};
      const first = requireWithCodeCache(file); const again = requireWithCodeCache(file); console.log(first === again && first.fib(10));`;
    const out = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, XDG_CACHE_HOME: target.cacheHome } });
    expect(out.stdout).toBe(`${EXPECTED}55\n`);
  });

  it('names the file it runs for NODE_DEBUG=pushcheck, with the cache and with NODE_DISABLE_COMPILE_CACHE', () => {
    const target = app();
    for (const disable of ['', '1']) {
      const out = run(target, { NODE_DISABLE_COMPILE_CACHE: disable });
      expect(out).toMatchObject({ code: 0, stdout: EXPECTED });
      expect(out.stderr.split('\n').map((line) => line.replace(/^PUSHCHECK \d+: /, ''))).toContain(`bundle ${target.file}`);
    }
  });

  it('is not written after a run that ends with a usage error (exit 2), nor with NODE_DISABLE_COMPILE_CACHE', () => {
    const target = app();
    expect(run(target, { APP_EXIT: '2' })).toMatchObject({ code: 2, stdout: EXPECTED, events: [] });
    expect(run(target, { NODE_DISABLE_COMPILE_CACHE: '1' })).toMatchObject({ code: 0, stdout: EXPECTED, events: [] });
    expect(readdirSync(path.dirname(target.file))).toEqual(['app.cjs']);
  });

  it.each(DAMAGES)('%s: is ignored, the file runs as without one, and a good cache is written again', (_label, damage, event) => {
    const target = app();
    run(target);
    writeFileSync(`${target.file}${OWN}`, damage(readFileSync(`${target.file}${OWN}`)));
    const damaged = run(target);
    expect(damaged).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(damaged.events).toEqual([`${target.file}${OWN}: ${event}`, expect.stringMatching(/: written \(\d+ bytes\)$/)]);
    expect(run(target).events).toEqual([`${target.file}${OWN}: used`]);
  });

  it('made for another build of the file (same size, rewritten): is ignored', () => {
    const target = app();
    run(target);
    writeFileSync(target.file, APP.replace('CODE', 'CoDE').replace("'code'", "'CoDE'"));
    const rebuilt = run(target);
    expect(rebuilt.stdout).toBe(EXPECTED);
    expect(rebuilt.events[0]).toBe(`${target.file}${OWN}: made for another file or Node, ignored`);
  });

  it('made for another build written in place with the same size and modification time (a reproducible build): is ignored', () => {
    // V8 checks only the source's length, so this cache would run the old code; the change time (ctime), which no one
    // sets by hand, tells the files apart. SOURCE_DATE_EPOCH builds stamp every file with one time, as here.
    const target = app();
    const stamp = (): void => utimesSync(target.file, 1_000_000_000, 1_000_000_000);
    stamp();
    run(target);
    expect(run(target).events).toEqual([`${target.file}${OWN}: used`]);
    writeFileSync(target.file, APP.replace('fib(15)', 'fib(14)'));
    stamp();
    const rebuilt = run(target);
    expect(rebuilt.stdout).toBe(EXPECTED.replace('610', '377'));
    expect(rebuilt.events[0]).toBe(`${target.file}${OWN}: made for another file or Node, ignored`);
  });

  it('that V8 refuses (its checks pass ours, the code is another file\'s): runs without it and writes a new one', () => {
    const other = app(`${APP}\nconsole.error('a longer, different file');\n`);
    run(other);
    const target = app();
    run(target);
    const own = readFileSync(`${target.file}${OWN}`);
    const end = own.indexOf(10);
    const [magic, , ...key] = own.toString('latin1', 0, end).split(' | ');
    const foreign = readFileSync(`${other.file}${OWN}`);
    const data = foreign.subarray(foreign.indexOf(10) + 1);
    writeFileSync(`${target.file}${OWN}`, Buffer.concat([Buffer.from(`${[magic, `${data.length}-${crc32(data).toString(16).padStart(8, '0')}`, ...key].join(' | ')}\n`, 'latin1'), data]));
    const refused = run(target);
    expect(refused).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(refused.events).toEqual([`${target.file}${OWN}: rejected by V8`, expect.stringMatching(/: written \(\d+ bytes\)$/)]);
    expect(run(target).events).toEqual([`${target.file}${OWN}: used`]);
  });

  it('goes to the user\'s cache folder ($XDG_CACHE_HOME/pushcheck) when it cannot be written beside the file', () => {
    const target = app();
    // A non-empty folder where the cache file would go: the rename onto it fails, as on a read-only installation.
    mkdirSync(`${target.file}${OWN}/blocked`, { recursive: true });
    const first = run(target);
    expect(first).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(first.events[0]).toMatch(new RegExp(`app\\.cjs${OWN_RE}: not written \\(E\\w+\\)$`));
    expect(first.events[1]).toMatch(new RegExp(`^${target.cacheHome}/pushcheck/[0-9a-f]+-app\\.cjs${OWN_RE}: written`));
    expect(readdirSync(path.dirname(target.file)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    const second = run(target);
    expect(second.events).toEqual([expect.stringMatching(new RegExp(`^${target.cacheHome}/pushcheck/[0-9a-f]+-app\\.cjs${OWN_RE}: used$`))]);
  });

  it("removes, when it writes one, a killed run's temporary file, and in the user's folder the caches older builds named otherwise", () => {
    const target = app();
    const ended = Number(spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8', timeout: 30_000 }).stdout);
    const minutesAgo = (place: string, minutes: number, text = 'old'): void => {
      writeFileSync(place, text);
      utimesSync(place, Date.now() / 1000 - minutes * 60, Date.now() / 1000 - minutes * 60);
    };
    const user = path.join(target.cacheHome, 'pushcheck');
    mkdirSync(path.join(user, 'rule-files'), { recursive: true });
    const kept = [
      `89abcdef-other.cjs${OWN}`, // another installation's, named as today
      `89abcdef-other.cjs${OWN}.${process.pid}.tmp`, // being written by a run that lives (this one)
      'rule-files',
    ];
    for (const name of kept.slice(0, 2)) minutesAgo(path.join(user, name), 5);
    // A sha1 of the bundle's path named caches before the CRC-32 (12 hex digits); before that, no Node version.
    const former = ['0123456789ab-app.cjs.cache', `0123456789ab-app.cjs${OWN}`, '1234abcd-check.cjs.cache', `89abcdef-other.cjs${OWN}.${ended}.tmp`];
    for (const name of former) minutesAgo(path.join(user, name), 5);
    // Cannot be written beside the file (as in the test above): it goes to the user's folder.
    mkdirSync(`${target.file}${OWN}/blocked`, { recursive: true });
    const first = run(target);
    expect(first).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(first.events.filter((event) => event.endsWith(': removed (left over)')).sort()).toEqual(former.map((name) => `${path.join(user, name)}: removed (left over)`).sort());
    const written = `${crc32(target.file).toString(16).padStart(8, '0')}-app.cjs${OWN}`;
    expect(readdirSync(user).sort()).toEqual([...kept, written].sort());
    // Beside the file, only a killed run's temporary file goes: names there are the bundle's own.
    rmSync(`${target.file}${OWN}`, { recursive: true });
    rmSync(path.join(user, written));
    const folder = path.dirname(target.file);
    minutesAgo(`${target.file}${OWN}.${ended}.tmp`, 5);
    minutesAgo(path.join(folder, 'notes.cache'), 5);
    expect(run(target).events).toContain(`${target.file}${OWN}.${ended}.tmp: removed (left over)`);
    expect(readdirSync(folder).sort()).toEqual(['app.cjs', `app.cjs${OWN}`, 'notes.cache', 'xdg'].sort());
  });

  it("is one file per Node version and architecture: another Node's cache is left alone, and this Node's written beside it", () => {
    const target = app();
    const folder = path.dirname(target.file);
    writeFileSync(`${target.file}.v0.0.1-x64.cache`, 'another Node');
    const first = run(target);
    expect(first).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(first.events).toEqual([expect.stringMatching(new RegExp(`^${target.file}${OWN_RE}: written`))]);
    expect(run(target).events).toEqual([`${target.file}${OWN}: used`]);
    expect(readdirSync(folder).sort()).toEqual(['app.cjs', `app.cjs${OWN}`, 'app.cjs.v0.0.1-x64.cache'].sort());
    expect(readFileSync(`${target.file}.v0.0.1-x64.cache`, 'utf8')).toBe('another Node');
  });

  it('keeps the 4 most recently written caches of a file when it writes one: older Nodes\' (a pre-release too) and the unversioned name go', () => {
    const target = app();
    const folder = path.dirname(target.file);
    const others = ['app.cjs.v23.0.0-pre-x64.cache', 'app.cjs.cache', 'app.cjs.v0.0.1-x64.cache', 'app.cjs.v0.0.2-arm64.cache', 'app.cjs.v0.0.3-x64.cache'];
    others.forEach((name, age) => {
      writeFileSync(path.join(folder, name), 'old');
      utimesSync(path.join(folder, name), 1_000_000 + age, 1_000_000 + age);
    });
    // Not the same file's caches: left alone.
    writeFileSync(path.join(folder, 'other.cjs.v0.0.1-x64.cache'), 'old');
    writeFileSync(path.join(folder, 'app.cjs.v0.0.1-x64.cache.notes'), 'old');
    const first = run(target);
    expect(first).toMatchObject({ code: 0, stdout: EXPECTED });
    expect(first.events.filter((event) => event.endsWith('(only the 4 newest are kept)')).sort()).toEqual(
      ['app.cjs.cache', 'app.cjs.v23.0.0-pre-x64.cache'].map((name) => `${path.join(folder, name)}: removed (only the 4 newest are kept)`),
    );
    expect(readdirSync(folder).sort()).toEqual(
      ['app.cjs', `app.cjs${OWN}`, 'app.cjs.v0.0.1-x64.cache', 'app.cjs.v0.0.2-arm64.cache', 'app.cjs.v0.0.3-x64.cache', 'other.cjs.v0.0.1-x64.cache', 'app.cjs.v0.0.1-x64.cache.notes'].sort(),
    );
  });

  // A check on Node 20 changes V8 flags before its bundles compile (src/cli/v8-flags.ts), and V8 refuses a cache made
  // under other flags. Here the process sets them as start.cjs does, through dist/cli/v8-flags.js, before the app runs.
  describe('under the V8 flags of a check', () => {
    const node20 = process.versions.v8.startsWith('11.');
    const V8_FLAGS = fileURLToPath(new URL('../../dist/cli/v8-flags.js', import.meta.url));
    const asCheck = (target: { file: string; cacheHome: string }, env: NodeJS.ProcessEnv = {}) => {
      const script = `import(${JSON.stringify(V8_FLAGS)}).then(({ v8FlagsForCheck }) => { v8FlagsForCheck(['rules.yaml']);
        if (process.env.APP_SETS_FLAGS) process.on('exit', () => require('node:v8').setFlagsFromString('--no-flush-bytecode'));
        require(${JSON.stringify(CODE_CACHE)}).requireWithCodeCache(${JSON.stringify(target.file)}); })`;
      return run(target, env, script);
    };

    it(`is a file of its own beside the defaults' one, each used by the next run of its kind (this is ${process.version})`, () => {
      const target = app();
      const folder = path.dirname(target.file);
      const flagged = asCheck(target);
      expect(flagged).toMatchObject({ code: 0, stdout: EXPECTED });
      const [written] = flagged.events;
      // Node 22 and later change no flag: the one file of this Node.
      const place = node20 ? expect.stringMatching(new RegExp(`^${target.file}${OWN_RE.replace(/\\.cache$/, '')}-[0-9a-f]+\\.cache: written`)) : expect.stringMatching(new RegExp(`^${target.file}${OWN_RE}: written`));
      expect(flagged.events).toEqual([place]);
      const ownFile = written!.replace(/: written.*$/, '');
      expect(run(target).events).toEqual(node20 ? [expect.stringMatching(new RegExp(`^${target.file}${OWN_RE}: written`))] : [`${ownFile}: used`]);
      // Each kind of run, in turns, finds its own cache.
      for (let turn = 0; turn < 2; turn += 1) {
        expect(asCheck(target).events).toEqual([`${ownFile}: used`]);
        expect(run(target).events).toEqual([`${target.file}${OWN}: used`]);
      }
      expect(readdirSync(folder).filter((name) => name.endsWith('.cache'))).toHaveLength(node20 ? 2 : 1);
    });

    it('is not written when V8 flags changed after the bundle compiled: no later run would take it', () => {
      const target = app();
      const changed = asCheck(target, { APP_SETS_FLAGS: '1' });
      expect(changed).toMatchObject({ code: 0, stdout: EXPECTED });
      // Node 22 and later: no flags of a check, so none noted, and the cache is written as ever.
      expect(changed.events).toEqual([expect.stringMatching(node20 ? /: not written \(V8 flags changed since the bundle compiled\)$/ : /: written \(\d+ bytes\)$/)]);
      if (node20) expect(readdirSync(path.dirname(target.file)).filter((name) => name.endsWith('.cache'))).toEqual([]);
    });
  });
});

describe('the bundles', () => {
  // scripts/one-byte.mjs replaces what esbuild leaves outside ASCII in comments: one "…" made check.cjs a string of two
  // bytes a character, decoded character by character on every run. A licence keeps its Latin-1 letters.
  it('hold ASCII alone but for Latin-1 letters in a licence at the end, so that Node reads each into a string of one byte a character', () => {
    const bundle = fileURLToPath(new URL('../../dist/bundle/', import.meta.url));
    const files = readdirSync(bundle, { recursive: true, encoding: 'utf8' }).filter((name) => /\.c?js$/.test(name));
    expect(files).toEqual(expect.arrayContaining(['check.cjs', 'rules.cjs', 'program.cjs', path.join('lib', 'undici.cjs')]));
    expect(files.filter((name) => !outsideAsciiOnlyInClosingLicence(readFileSync(path.join(bundle, name), 'utf8')))).toEqual([]);
    expect(readFileSync(path.join(bundle, 'lib', 'undici.cjs'), 'utf8')).toContain('Jimmy W\u00e4rting');
  });

  // code-cache.cjs runs the bundles beside it and in lib/ with its own require (no node:module), which resolves a
  // relative path from dist/bundle/: right for ./code-cache.cjs, wrong for anything else a library might name.
  const bundleFolder = fileURLToPath(new URL('../../dist/bundle/', import.meta.url));
  /** The CommonJS bundles in dist/bundle/ and its lib/, each with its text. */
  const commonJsBundles = () =>
    readdirSync(bundleFolder, { recursive: true, encoding: 'utf8' })
      .filter((name) => /^(lib[\\/])?[^\\/]+\.cjs$/.test(name))
      .map((name) => ({ name, text: readFileSync(path.join(bundleFolder, name), 'utf8') }));

  it("require Node's built-ins alone, but for the bundles' ./code-cache.cjs", () => {
    const files = commonJsBundles();
    const builtins = new Set(builtinModules);
    const foreign = files.flatMap(({ name, text }) =>
      [...text.matchAll(/\brequire\("([^"]+)"\)/g)]
        .map((match) => match[1] ?? '')
        .filter((specifier) => !specifier.startsWith('node:') && !builtins.has(specifier) && !(specifier === './code-cache.cjs' && !name.startsWith('lib')))
        .map((specifier) => `${name}: ${specifier}`),
    );
    expect(files.map(({ name }) => name)).toEqual(expect.arrayContaining(['check.cjs', path.join('lib', 'yaml.cjs')]));
    expect(foreign).toEqual([]);
  });

  // The same require answers require.resolve from dist/bundle/, where for a lib/ bundle Node's loader would from lib/.
  it("use no require.resolve, which code-cache.cjs's require answers from dist/bundle/ alone", () => {
    expect(commonJsBundles().filter(({ text }) => /\brequire\.resolve\b/.test(text)).map(({ name }) => name)).toEqual([]);
  });

  it('are rewritten by oneByteText: "?" for each UTF-16 unit outside ASCII, but Latin-1 letters of a legal comment', async () => {
    const { oneByteText } = (await import(new URL('../../scripts/one-byte.mjs', import.meta.url).href)) as { oneByteText: (code: string) => string };
    const code = 'a(); // see \u00a73 \u2026 done\n/*! MIT. J\u00e4rv \u2014 x */\n// @license B\u00f8 \ud83d\ude00\n/* plain \u00e4 */\n';
    expect(oneByteText(code)).toBe('a(); // see ?3 ? done\n/*! MIT. J\u00e4rv ? x */\n// @license B\u00f8 ??\n/* plain ? */\n');
    expect(oneByteText(code)).toHaveLength(code.length);
    // The bundles' own test above holds them to this: a licence at the end may keep its letters, a comment in code not.
    expect(outsideAsciiOnlyInClosingLicence('a();\n/*! J\u00e4rv */\n//# sourceMappingURL=a.js.map\n')).toBe(true);
    expect(outsideAsciiOnlyInClosingLicence('/*! J\u00e4rv */\na();\n')).toBe(false);
    expect(outsideAsciiOnlyInClosingLicence('a(); /* \u2026 */\n')).toBe(false);
  });
});
