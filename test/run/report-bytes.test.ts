/**
 * The end of a run, byte for byte: from the probed targets to every output pushcheck writes, against the outputs
 * main's code wrote before that end was made faster (test/fixtures/tail/make.mjs made them from ea10b5b's build, not
 * from the code under test). The runs: the bench's 1,000 loopback TCP targets, and two built-in vendor rule sets
 * with a user's rule file, probed as loopback stand-ins answer them (test/fixtures/tail/probed.mjs), on a fixed clock.
 * A deliberate change of output rewrites the fixtures with make.mjs from the changed build; read their diff.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitReport } from '../../src/cli/report-files.js';
import { expandTargets } from '../../src/rules/expand.js';
import { parseRuleSet } from '../../src/rules/load.js';
import { reportOfProbed, type CheckSettings } from '../../src/run/run.js';
import { DURATION_MS, ENVIRONMENT, OUTPUTS, STARTED_AT, outputsOf, tailCases } from '../fixtures/tail/probed.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'report-bytes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The first line where `actual` leaves `expected`, with its number: a readable failure for a 500 KB text. */
function firstDifference(actual: string, expected: string): string {
  const [a, e] = [actual.split('\n'), expected.split('\n')];
  const line = a.findIndex((text, i) => text !== e[i]);
  return line < 0 ? `same lines, ${actual.length} against ${expected.length} characters` : `line ${line + 1}: ${JSON.stringify(a[line])} where main wrote ${JSON.stringify(e[line])}`;
}

describe.each(tailCases({ parseRuleSet, expandTargets }))('the end of a run of $name', (run) => {
  // Made in beforeAll, one run after the other: emitReport writes the table to process.stdout, which outputsOf borrows.
  let texts: Promise<{ exitCode: number; texts: Map<string, string> }>;
  beforeAll(async () => {
    texts = made();
    await texts;
  });
  const made = async () => {
    const settings: CheckSettings = {
      timeoutMs: 5000,
      concurrency: 64,
      retries: 0,
      strict: run.strict,
      warnDays: run.warnDays,
      insecure: false,
      pins: [],
      caPems: [],
      vars: {},
      recorded: run.recorded,
    };
    const report = await reportOfProbed(run.probed, run.ruleSets, settings, {
      signal: new AbortController().signal,
      now: () => STARTED_AT,
      startedAt: STARTED_AT,
      durationMs: () => DURATION_MS[run.name],
    });
    // The machine's Node and kernel are the one thing a report takes from outside the run.
    report.environment = ENVIRONMENT;
    return { exitCode: report.exitCode, texts: await outputsOf(report, emitReport, path.join(dir, run.name)) };
  };

  it.each(OUTPUTS)('writes %s as main did', async (name) => {
    const { exitCode, texts: written } = await texts;
    const expected = gunzipSync(readFileSync(new URL(`../fixtures/tail/${run.name}.${exitCode}.${name}.gz`, import.meta.url))).toString('utf8');
    const actual = written.get(name)!;
    expect(actual === expected, firstDifference(actual, expected)).toBe(true);
  });

  it('leaves out the password and the escape sequence a server sent, in every output', async () => {
    const { texts: written } = await texts;
    for (const [name, text] of written) {
      expect(text, name).not.toContain('hunter2');
      expect(text, name).not.toContain('\u001b[31mRED');
      // The raw control characters of the user's rule file never reach a terminal or a file.
      expect(text, name).not.toContain('\u0007');
      if (run.name === 'vendors' && name !== 'markdown' && name !== 'prometheus') expect(text, name).toContain('http://***@proxy.corp.example');
    }
  });
});
