/** Reading a saved report back: each way a file can be wrong is one line naming the file, as a usage error (exit 2). */
import { describe, expect, it } from 'vitest';
import { FileError, isUsageError } from '../../src/errors.js';
import { json } from '../../src/report/json.js';
import { parseReport } from '../../src/report/validate.js';
import { findingsOf } from '../../src/findings/index.js';
import { richReport } from './fixture.js';

function problem(text: string, file = 'saved.json'): string {
  try {
    parseReport(text, file);
  } catch (err) {
    expect(isUsageError(err)).toBe(true);
    expect(err).toBeInstanceOf(FileError);
    const message = (err as Error).message;
    expect(message.split('\n')).toHaveLength(1);
    expect(message.startsWith(`${file}: `)).toBe(true);
    return message;
  }
  throw new Error('parseReport accepted it');
}

const saved = json.render(richReport(), { color: false });

describe('parseReport', () => {
  it('gives back the report it was given', () => {
    expect(parseReport(saved, 'saved.json')).toEqual(richReport());
  });

  it('reads a report written before findings existed, drawing them from its results', () => {
    const { findings: _none, ...old } = JSON.parse(saved) as Record<string, unknown>;
    const read = parseReport(JSON.stringify(old), 'old.json');
    expect(read.findings).toEqual(findingsOf(richReport().results, { startedAt: richReport().startedAt }));
    expect(read.findings.map((f) => f.cause)).toEqual(['ports_blocked', 'legacy_only']);
  });

  it('refuses text that is not JSON', () => {
    expect(problem('{"schemaVersion": 1,', 'broken.json')).toMatch(/^broken\.json: not JSON \(/);
  });

  it('refuses JSON that is not a pushcheck report', () => {
    expect(problem('{"name": "something else"}')).toMatch(/not a pushcheck report/);
    expect(problem('[1, 2, 3]')).toMatch(/not a pushcheck report/);
    expect(problem('null')).toMatch(/not a pushcheck report/);
  });

  it('refuses another schemaVersion, saying which it reads', () => {
    const v2 = JSON.stringify({ ...JSON.parse(saved), schemaVersion: 2 });
    expect(problem(v2)).toMatch(/schemaVersion: 2 is not supported: pushcheck .* reads schemaVersion 1/);
  });

  it('refuses a report of the wrong shape, naming the field', () => {
    const data = JSON.parse(saved);
    data.results[3].status = 'broken';
    expect(problem(JSON.stringify(data))).toMatch(/not a valid pushcheck report: results\[3\]\.status: must be one of "pass", "fail", "warn", "skip"/);
    delete data.results[3].status;
    expect(problem(JSON.stringify(data))).toMatch(/results\[3\]\.status: missing/);
    const extra = { ...JSON.parse(saved), extra: true };
    expect(problem(JSON.stringify(extra))).toMatch(/not a valid pushcheck report: extra: unknown field/);
  });
});
