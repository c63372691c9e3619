/**
 * The single executable (npm run build:sea) run as on a machine without Node.js: an empty environment, no PATH,
 * started from another directory. Built here if it is not there yet (a copy of the Node binary: about 100 MB).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const binary = path.join(root, 'dist', 'sea', `pushcheck-${process.platform}-${process.arch}`);

beforeAll(() => {
  if (!existsSync(binary)) execFileSync(process.execPath, ['scripts/build-sea.mjs'], { cwd: root, stdio: 'ignore' });
}, 240_000);

function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(binary, args, { cwd: os.tmpdir(), encoding: 'utf8', env, timeout: 60_000 });
}

describe(`dist/sea/pushcheck-${process.platform}-${process.arch}`, () => {
  it('starts with an empty environment and knows its version', () => {
    const result = run(['--version']);
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('runs pushcheck ios: a report of its 11 targets, a verdict and no crash (no Internet here: failures are fine)', () => {
    const result = run(['ios', '-f', 'json', '-t', '500']);
    expect([0, 1]).toContain(result.status);
    expect(result.stderr).not.toMatch(/\n\s+at /);
    const report = JSON.parse(result.stdout) as { summary: { total: number }; rulesets: Array<{ id: string }> };
    expect(report.rulesets.map((set) => set.id)).toEqual(['moki-ios']);
    expect(report.summary.total).toBe(11);
  });

  it('ships the rule summaries: `rules list` reads them while every rule file matches its sha256, and parses otherwise', () => {
    // A temporary directory of its own (the only variable set), so that the unpacked assets can be changed here.
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-sea-summaries-'));
    try {
      const first = run(['rules', 'list'], { TMPDIR: tmp });
      expect(first.status).toBe(0);
      expect(first.stdout).toContain('moki-ios');
      const [unpacked] = readdirSync(tmp).filter((name) => name.startsWith('pushcheck-sea-'));
      const summaries = path.join(tmp, unpacked!, 'dist', 'rule-summaries.json');
      const stored = JSON.parse(readFileSync(summaries, 'utf8')) as { table: string; files: Record<string, string> };
      expect(stored.table).toBe(first.stdout);
      // A table changed in the stored file shows: the executable printed the summaries, not a parse.
      writeFileSync(summaries, JSON.stringify({ ...stored, table: `${stored.table}(stored)\n` }));
      expect(run(['rules', 'list'], { TMPDIR: tmp }).stdout).toBe(`${first.stdout}(stored)\n`);
      // A rule file no longer the one summarised (its sha256 differs) is parsed again: the true table, not the stored one.
      appendFileSync(path.join(tmp, unpacked!, 'rules', 'moki-ios.yaml'), '# changed\n');
      expect(run(['rules', 'list'], { TMPDIR: tmp }).stdout).toBe(first.stdout);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('carries the rule sets and the schema: the demo of ios comes out green', () => {
    const result = run(['demo', '--clean', 'ios', '-f', 'json']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout) as { summary: { total: number; passed: number } };
    expect(report.summary.passed).toBe(report.summary.total);
  });
});
