/**
 * The JSON report's schema, used by ajv as a consumer would: the reports pushcheck writes validate, wrong shapes
 * do not, and the closed sets match the code (that the schema ships in the package: test/package/pack.test.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FAILURES } from '../../src/probes/classify.js';
import { json } from '../../src/report/json.js';
import { SCHEMA_URL } from '../../src/report/validate.js';
import type { Report } from '../../src/types.js';
import { schemaErrors } from './consumers.js';
import { nastyReport, report, result, richReport, unprobed } from './fixture.js';

function roundTrip(r: Report): unknown {
  return JSON.parse(json.render(r, { color: false }));
}

/** A JSON copy of the rich report with one change made by `edit`. */
function edited(edit: (r: Record<string, any>) => void): unknown {
  const copy = roundTrip(richReport()) as Record<string, any>;
  edit(copy);
  return copy;
}

describe('schemas/report.schema.json', () => {
  it('accepts what the json format writes: every status and optional part, and outside text', () => {
    expect(schemaErrors(roundTrip(richReport()))).toBeUndefined();
    expect(schemaErrors(roundTrip(nastyReport()))).toBeUndefined();
    expect(schemaErrors(roundTrip(report([])))).toBeUndefined();
    const interrupted = report([result(), unprobed({ port: 5223, note: 'interrupted' })], { interrupted: true });
    expect(schemaErrors(roundTrip(interrupted))).toBeUndefined();
  });

  const wrong: Array<[string, (r: Record<string, any>) => void, RegExp]> = [
    ['a missing required field', (r) => delete r.startedAt, /startedAt/],
    ['another schemaVersion', (r) => (r.schemaVersion = 2), /schemaVersion/],
    ['another tool', (r) => (r.tool.name = 'goss'), /tool/],
    ['an unknown status', (r) => (r.results[0].status = 'ok'), /status/],
    ['an unknown severity', (r) => (r.results[0].severity = 'fatal'), /severity/],
    ['an unknown check', (r) => (r.results[0].check = 'smtp'), /check/],
    ['an unknown failure code', (r) => (r.results[1].error.code = 'tcp_blocked'), /code/],
    ['an unknown phase', (r) => (r.results[1].error.phase = 'udp'), /phase/],
    ['an unknown field', (r) => (r.results[0].colour = 'red'), /colour/],
    ['a port out of range', (r) => (r.results[0].port = 70000), /port/],
    ['a port as a string', (r) => (r.results[0].port = '443'), /port/],
    ['a failure without its error', (r) => delete r.results[1].error, /"missingProperty":"error"/],
    ['a skip without its reason', (r) => delete r.results[5].note, /"missingProperty":"note"/],
    ['an exit code the CLI never uses', (r) => (r.exitCode = 3), /exitCode/],
    ['a date that is not ISO 8601', (r) => (r.startedAt = 'yesterday'), /startedAt/],
    ['a negative count', (r) => (r.summary.failed = -1), /failed/],
    ['an unknown finding cause', (r) => (r.findings[0].cause = 'gremlins'), /cause/],
    ['a finding without its action', (r) => delete r.findings[0].action, /"missingProperty":"action"/],
    ['a finding with more than five examples', (r) => (r.findings[0].examples = ['a', 'b', 'c', 'd', 'e', 'f']), /examples/],
  ];
  for (const [name, edit, where] of wrong) {
    it(`refuses ${name}`, () => {
      const errors = schemaErrors(edited(edit));
      expect(errors).toBeDefined();
      expect(errors).toMatch(where);
    });
  }

  it('accepts a report written before findings existed (no findings field)', () => {
    expect(schemaErrors(edited((r) => delete r.findings))).toBeUndefined();
  });

  it('lists exactly the causes of the findings registry', async () => {
    const { CAUSES } = await import('../../src/findings/index.js');
    const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as { $defs: { findingCause: { enum: string[] } } };
    expect([...schema.$defs.findingCause.enum].sort()).toEqual(CAUSES.map((c) => c.cause).sort());
  });

  it('lists exactly the failure codes the probes produce', () => {
    const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as { $defs: { failureCode: { enum: string[] } } };
    expect([...schema.$defs.failureCode.enum].sort()).toEqual(Object.keys(FAILURES).sort());
  });
});
