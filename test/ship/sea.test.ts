/**
 * The single executable (npm run build:sea) run as on a machine without Node.js: an empty environment, no PATH,
 * started from another directory. Built here if it is not there yet, or older than anything it is built from
 * (a copy of the Node binary: about 100 MB, some 30 s). Its inputs from `npm run build` (dist/rule-sets.json,
 * dist/rule-summaries.json) are taken as they are: run the build first, as `npm test` does.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { cacheChecksum } from '../../src/cache-folder.js';
import { builtinNames } from '../../src/rules/builtin.js';
import { outsideAsciiOnlyInClosingLicence } from '../helpers/one-byte.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const binary = path.join(root, 'dist', 'sea', `pushcheck-${process.platform}-${process.arch}`);

/** The newest modification time of the files the executable is built from (a few hundred stat calls). */
function newestInput(): number {
  const inputs = ['package.json', 'scripts/build-sea.mjs', 'scripts/one-byte.mjs', 'dist/rule-sets.json', 'dist/rule-summaries.json'];
  for (const folder of ['src', 'rules', 'schemas']) {
    for (const entry of readdirSync(path.join(root, folder), { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) inputs.push(path.relative(root, path.join(entry.parentPath, entry.name)));
    }
  }
  return Math.max(...inputs.map((file) => statSync(path.join(root, file)).mtimeMs));
}

beforeAll(() => {
  if (!existsSync(binary) || statSync(binary).mtimeMs < newestInput()) {
    execFileSync(process.execPath, ['scripts/build-sea.mjs'], { cwd: root, stdio: 'ignore' });
  }
}, 240_000);

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(binary, args, { cwd: os.tmpdir(), encoding: 'utf8', env, timeout: 60_000 });
}

/** A temporary directory for the executable (its only variable), so that the assets it unpacks can be changed. */
function withOwnTmp(test: (tmp: string, unpacked: () => string) => void) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-sea-assets-'));
  try {
    test(tmp, () => path.join(tmp, readdirSync(tmp).find((name) => name.startsWith('pushcheck-sea-'))!));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

describe(`dist/sea/pushcheck-${process.platform}-${process.arch}`, () => {
  it('starts with an empty environment and knows its version', () => {
    const result = run(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  // scripts/one-byte.mjs: a character outside ASCII in a comment made its 4.5 MB a string of two bytes a character,
  // decoded on every start (`--version`: 257 -> 159 million instructions).
  it('runs JavaScript in ASCII but for Latin-1 letters in a licence at its end, so that Node makes it a string of one byte a character', () => {
    expect(outsideAsciiOnlyInClosingLicence(readFileSync(path.join(root, 'dist', 'sea', 'pushcheck.cjs'), 'utf8'))).toBe(true);
  });

  it('runs pushcheck ios: a report of its 11 targets, a verdict and no crash (no Internet here: failures are fine)', () => {
    const result = run(['ios', '-f', 'json', '-t', '500']);
    expect([0, 1]).toContain(result.status);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const report = JSON.parse(result.stdout) as { summary: { total: number }; rulesets: Array<{ id: string }> };
    expect(report.rulesets.map((set) => set.id)).toEqual(['moki-ios']);
    expect(report.summary.total).toBe(11);
  });

  it('ships every built-in rule file a run finds in rules/, whatever its extension (.yaml or .yml)', () => {
    const files = JSON.parse(readFileSync(path.join(root, 'dist', 'sea', 'manifest.json'), 'utf8')) as string[];
    const shipped = files.filter((file) => file.startsWith('rules/')).sort();
    expect(shipped).toEqual(builtinNames().map(({ file }) => `rules/${path.basename(file)}`).sort());
    expect(shipped.length).toBeGreaterThan(0);
  });

  it('ships the rule summaries: `rules list` reads them while every rule file reads as the text stored with it, and parses otherwise', () => {
    withOwnTmp((tmp, unpacked) => {
      const first = run(['rules', 'list'], { TMPDIR: tmp });
      expect(first.status).toBe(0);
      expect(first.stdout).toContain('moki-ios');
      // Named by every file it holds, name and text: another build's assets get a folder of their own.
      const files = JSON.parse(readFileSync(path.join(root, 'dist', 'sea', 'manifest.json'), 'utf8')) as string[];
      const held = files.map((file) => `${file}\0${readFileSync(path.join(unpacked(), file), 'utf8')}\0`).join('');
      expect(path.basename(unpacked())).toBe(`pushcheck-sea-${cacheChecksum(held)}`);
      const summaries = path.join(unpacked(), 'dist', 'rule-summaries.json');
      const stored = JSON.parse(readFileSync(summaries, 'utf8')) as { table: string; files: Record<string, string> };
      expect(stored.table).toBe(first.stdout);
      // A table changed in the stored file shows: the executable printed the summaries, not a parse.
      writeFileSync(summaries, JSON.stringify({ ...stored, table: `${stored.table}(stored)\n` }));
      expect(run(['rules', 'list'], { TMPDIR: tmp }).stdout).toBe(`${first.stdout}(stored)\n`);
      // A rule file no longer the one summarised (its text differs) is parsed again: the true table, not the stored one.
      appendFileSync(path.join(unpacked(), 'rules', 'moki-ios.yaml'), '# changed\n');
      expect(run(['rules', 'list'], { TMPDIR: tmp }).stdout).toBe(first.stdout);
    });
  });

  it('ships the parsed rule sets: a check uses the stored set while its rule file reads as the text stored with it, and parses otherwise', () => {
    withOwnTmp((tmp, unpacked) => {
      const title = (result: ReturnType<typeof run>) => (JSON.parse(result.stdout) as { rulesets: Array<{ title: string }> }).rulesets[0]!.title;
      const check = () => run(['ios', '-f', 'json', '-t', '200'], { TMPDIR: tmp });
      const first = check();
      expect([0, 1]).toContain(first.status);
      const ruleSets = path.join(unpacked(), 'dist', 'rule-sets.json');
      const stored = JSON.parse(readFileSync(ruleSets, 'utf8')) as { sets: Record<string, { title: string }> };
      expect(stored.sets['moki-ios.yaml']!.title).toBe(title(first));
      // A title changed in the stored file shows in the report: the executable used the stored set, not a parse.
      stored.sets['moki-ios.yaml']!.title += ' (stored)';
      writeFileSync(ruleSets, JSON.stringify(stored));
      expect(title(check())).toBe(`${title(first)} (stored)`);
      // A rule file no longer the one parsed at build time (its text differs) is parsed again: the true title.
      appendFileSync(path.join(unpacked(), 'rules', 'moki-ios.yaml'), '# changed\n');
      expect(title(check())).toBe(title(first));
    });
  });

  it('trusts an unpacked folder only while it is its user\'s own: one others may write, or another user\'s, is passed over', () => {
    withOwnTmp((tmp, unpacked) => {
      const first = run(['rules', 'list'], { TMPDIR: tmp });
      expect(first.status).toBe(0);
      const folder = unpacked();
      // Someone else's rules in the folder of that name: a table of theirs, which must not be printed.
      const summaries = path.join(folder, 'dist', 'rule-summaries.json');
      const stored = JSON.parse(readFileSync(summaries, 'utf8')) as { table: string };
      writeFileSync(summaries, JSON.stringify({ ...stored, table: 'planted\n' }));
      chmodSync(folder, 0o777);
      const writable = run(['rules', 'list'], { TMPDIR: tmp });
      expect(writable.stdout).toBe(first.stdout);
      chmodSync(folder, 0o700);
      expect(run(['rules', 'list'], { TMPDIR: tmp }).stdout).toBe('planted\n');
      if (process.getuid?.() === 0) {
        chownSync(folder, 65534, 65534);
        expect(run(['rules', 'list'], { TMPDIR: tmp }).stdout).toBe(first.stdout);
      } else {
        console.log('sea.test: another user\'s folder not tried: chown needs root');
      }
      // The copies made for those runs are gone with them: only the folder of that name is left.
      expect(readdirSync(tmp)).toEqual([path.basename(folder)]);
    });
  });

  it('carries the rule sets and the schema: the demo of ios comes out green', () => {
    const result = run(['demo', '--clean', 'ios', '-f', 'json']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as { summary: { total: number; passed: number } };
    expect(report.summary.passed).toBe(report.summary.total);
  });
});
