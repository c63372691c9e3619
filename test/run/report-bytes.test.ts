/**
 * The end of a run, byte for byte: from the probed targets to every output pushcheck writes, as golden files
 * (test/fixtures/golden/<run>.<exit code>.<output>, docs/contributing.md "Golden files"; first written by ea10b5b's
 * build, before that end was made faster). The runs: the bench's 1,000 loopback TCP targets, and two built-in vendor
 * rule sets with a user's rule file, probed as loopback stand-ins answer them (test/fixtures/tail/probed.mjs), on a
 * fixed clock. After a deliberate change of output, rewrite them and read the diff:
 *
 *   npm run build && npx vitest run test/run/report-bytes.test.ts --update
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emitReport } from '../../src/cli/report-files.js';
import { expandTargets } from '../../src/rules/expand.js';
import { parseRuleSet } from '../../src/rules/load.js';
import { reportOfProbed, type CheckSettings } from '../../src/run/run.js';
import { DURATION_MS, ENVIRONMENT, OUTPUTS, STARTED_AT, outputsOf, tailCases } from '../fixtures/tail/probed.mjs';

const dir = mkdtempSync(path.join(os.tmpdir(), 'report-bytes-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

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
      retries: run.recorded.retries,
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

  it.each(OUTPUTS)('writes %s as its golden file holds', async (name) => {
    const { exitCode, texts: written } = await texts;
    await expect(written.get(name)).toMatchFileSnapshot(`../fixtures/golden/${run.name}.${exitCode}.${name}`);
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
