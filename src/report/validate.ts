/**
 * Reading a saved report back (`pushcheck report`, `pushcheck diff`): the text must be JSON, a pushcheck report,
 * of the schemaVersion this pushcheck writes, and valid against schemas/report.schema.json. Each way it can be
 * wrong is one line naming the file, exit 2. A report from before findings existed gets them from its results.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import { FileError } from '../errors.js';
import { findingsOf } from '../findings/index.js';
import type { Report } from '../types.js';
import { version } from '../version.js';
import { packageUrl } from '../package-root.js';

/** The schemaVersion this pushcheck writes and reads. */
export const SCHEMA_VERSION: Report['schemaVersion'] = 1;

/** The JSON schema of reports, shipped in schemas/. */
export const SCHEMA_URL = packageUrl('schemas/report.schema.json');

let compiled: ValidateFunction | undefined;

/** The report schema, compiled once (strict, but `required` inside if/then may name properties defined above it). */
export function reportValidator(): ValidateFunction {
  if (!compiled) {
    const schema = JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as object;
    compiled = new Ajv2020({ allErrors: true, strict: true, strictRequired: false }).compile(schema);
  }
  return compiled;
}

/** `/results/3/status` → `results[3].status`, the way the rule loader names fields. */
function fieldOf(error: ErrorObject): string {
  const parts = error.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (error.keyword === 'additionalProperties') parts.push(String(error.params.additionalProperty));
  if (error.keyword === 'required') parts.push(String(error.params.missingProperty));
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '');
}

function describe(error: ErrorObject): string {
  switch (error.keyword) {
    case 'additionalProperties':
      return 'unknown field';
    case 'required':
      return 'missing';
    case 'enum':
      return `must be one of ${(error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return error.message ?? 'invalid';
  }
}

/**
 * The most telling error: ajv also reports the `if`/`then` and `allOf` wrappers around a deeper one; those say
 * nothing a person can act on.
 */
function firstUseful(errors: ErrorObject[]): ErrorObject {
  return errors.find((e) => e.keyword !== 'if' && e.keyword !== 'allOf') ?? errors[0]!;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses and validates the text of a saved report; every problem is a one-line FileError. */
export function parseReport(text: string, file: string): Report {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new FileError(file, 0, '', `not JSON (${(err as Error).message})`);
  }
  const tool = isRecord(data) ? data.tool : undefined;
  if (!isRecord(data) || !isRecord(tool) || tool.name !== 'pushcheck' || !('schemaVersion' in data)) {
    throw new FileError(file, 0, '', 'not a pushcheck report (expected a JSON report written by pushcheck --json or --format json)');
  }
  if (data.schemaVersion !== SCHEMA_VERSION) {
    throw new FileError(
      file,
      0,
      'schemaVersion',
      `${JSON.stringify(data.schemaVersion)} is not supported: pushcheck ${version} reads schemaVersion ${SCHEMA_VERSION}` +
        (typeof tool.version === 'string' ? ` (the report was written by pushcheck ${tool.version})` : ''),
    );
  }
  const validate = reportValidator();
  if (!validate(data)) {
    const error = firstUseful(validate.errors ?? []);
    const writer = typeof tool.version === 'string' && tool.version !== version ? ` (written by pushcheck ${tool.version}; this is ${version})` : '';
    throw new FileError(file, 0, '', `not a valid pushcheck report: ${fieldOf(error)}: ${describe(error)}${writer}`);
  }
  const report = data as unknown as Omit<Report, 'findings'> & { findings?: Report['findings'] };
  // Written before findings existed: they are drawn from its results, as the run would have drawn them.
  return { ...report, findings: report.findings ?? findingsOf(report.results, { startedAt: report.startedAt }) };
}
