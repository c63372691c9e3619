/**
 * The real consumers each format is checked with: xmllint against the Jenkins xUnit JUnit schema, promtool,
 * cmark-gfm (the parser GitHub renders Markdown with) and ajv with the report's own JSON Schema. A missing tool fails the test that needs it, saying what to install.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { reportValidator } from '../../src/report/validate.js';

/** CI has ../shared beside the repository. */
export const JUNIT_XSD = fileURLToPath(new URL('../../../shared/schemas/junit-10.xsd', import.meta.url));

export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], input?: string): ToolRun {
  const out = spawnSync(command, args, { input, encoding: 'utf8' });
  if (out.error) {
    const pkg = { xmllint: 'libxml2-utils', promtool: 'prometheus' }[command] ?? command;
    throw new Error(`${command} is not installed (Debian package ${pkg}; .ci/run installs it): ${out.error.message}`);
  }
  return { status: out.status, stdout: out.stdout, stderr: out.stderr };
}

function withFile<T>(name: string, text: string, use: (file: string) => T): T {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-consumer-'));
  try {
    const file = path.join(dir, name);
    writeFileSync(file, text);
    return use(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `xmllint --schema junit-10.xsd`: status 0 when the document is well-formed and valid. */
export function xmllintSchema(xml: string): ToolRun {
  if (!existsSync(JUNIT_XSD)) throw new Error(`${JUNIT_XSD} is missing: the JUnit tests need ../shared/schemas/junit-10.xsd`);
  return withFile('report.xml', xml, (file) => run('xmllint', ['--noout', '--schema', JUNIT_XSD, file]));
}

/** The value of an XPath expression over the document, as xmllint computes it (e.g. `string(//testcase[1]/@name)`). */
export function xpath(xml: string, expression: string): string {
  const out = withFile('report.xml', xml, (file) => run('xmllint', ['--xpath', expression, file]));
  if (out.status !== 0) throw new Error(`xmllint --xpath ${expression}: ${out.stderr}`);
  // xmllint ends its answer with one line break of its own.
  return out.stdout.endsWith('\n') ? out.stdout.slice(0, -1) : out.stdout;
}

/** `promtool check metrics` (reads stdin): status 0 and no output when the exposition is valid and lint-clean. */
export function promtoolCheck(text: string): ToolRun {
  return run('promtool', ['check', 'metrics'], text);
}

/** Asserts that promtool finds the exposition valid and lint-clean (its complaints, if any, are the failure message). */
export function expectPromtoolClean(text: string): void {
  const check = promtoolCheck(text);
  expect(check.stdout + check.stderr).toBe('');
  expect(check.status).toBe(0);
}

/**
 * Markdown as GitHub parses it (cmark-gfm with the table extension), as CommonMark's XML syntax tree without its
 * namespace and DTD, ready for {@link xpath}: `//table`, `//table_row`, `//table_cell`, `//html_block`, `//code`.
 */
export function markdownTree(markdown: string): string {
  const out = run('cmark-gfm', ['--extension', 'table', '--to', 'xml'], markdown);
  if (out.status !== 0) throw new Error(`cmark-gfm: ${out.stderr}`);
  // Drop the indentation between elements (text content has `<` and `>` escaped, so this touches tags only).
  return out.stdout.replace(/<!DOCTYPE[^>]*>/, '').replace(/ xmlns="[^"]*"/, '').replace(/>\n\s*</g, '><');
}

/** ajv with schemas/report.schema.json; the errors as text when invalid. */
export function schemaErrors(data: unknown): string | undefined {
  const validate = reportValidator();
  return validate(data) ? undefined : JSON.stringify(validate.errors);
}
