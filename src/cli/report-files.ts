/**
 * Where reports go: one format on stdout plus any number of files (`--json FILE`, `--junit FILE`, …, `-` for
 * stdout) from the same run, and reading a saved report back. A file is written to a temporary file in its own
 * directory and renamed over the target, so a reader (a CI artifact upload, node_exporter's textfile collector)
 * never sees half a report, and a failed write leaves the old file as it was. Writes are synchronous on purpose:
 * a second Ctrl-C cannot cut in between writing and renaming.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync, accessSync, constants } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { FileError, UsageError } from '../errors.js';
import { formatNames, formats } from '../report/index.js';
import { redactSecrets } from '../report/redact.js';
import type { Report } from '../types.js';

/** Every format but the terminal table can also be written to a file: `--json FILE`, `--junit FILE`, … */
export const FILE_FORMATS: readonly string[] = formatNames.filter((name) => name !== 'table');

const WHAT: Record<string, string> = {
  json: 'the JSON report',
  junit: 'JUnit XML',
  markdown: 'the Markdown report',
  prometheus: 'Prometheus text (for node_exporter’s textfile collector)',
};

/** A further report of the run: `file` is a path, or `-` for stdout. */
export interface Output {
  format: string;
  file: string;
}

export function addOutputOptions(command: Command): Command {
  for (const name of FILE_FORMATS) {
    command.option(`--${name} <file>`, `also write ${WHAT[name] ?? `the ${name} report`} to this file ("-": stdout)`);
  }
  return command;
}

export function outputsFrom(flags: object): Output[] {
  const given = flags as Record<string, unknown>;
  return FILE_FORMATS.flatMap((format) => (typeof given[format] === 'string' ? [{ format, file: given[format] as string }] : []));
}

/**
 * Refuses, before anything is probed, outputs that could not be written: a missing or read-only directory, a
 * directory named as the file, two reports into one file.
 */
export function checkOutputs(outputs: Output[]): void {
  const seen = new Map<string, string>();
  for (const { format, file } of outputs) {
    if (file === '-') continue;
    if (file === '') throw new UsageError(`--${format}: give a file name, or - for stdout`);
    const full = path.resolve(file);
    const other = seen.get(full);
    if (other) throw new UsageError(`--${other} and --${format} both write ${file}: give each report its own file`);
    seen.set(full, format);
    const dir = path.dirname(full);
    try {
      if (!statSync(dir).isDirectory()) throw Object.assign(new Error(), { code: 'ENOTDIR' });
      accessSync(dir, constants.W_OK);
    } catch (err) {
      throw new UsageError(`--${format} ${file}: cannot write into ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    let isDir = false;
    try {
      isDir = statSync(full).isDirectory();
    } catch {
      // Not there yet: it will be created.
    }
    if (isDir) throw new UsageError(`--${format} ${file}: is a directory`);
  }
}

/** Writes `text` to `file` all at once: a temporary file beside it, flushed to disk, then renamed over it. */
export function writeFileAtomic(file: string, text: string): void {
  const dir = path.dirname(path.resolve(file));
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o666);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, file);
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(temp);
    } catch {
      // It was never created, or the rename already moved it.
    }
    throw err;
  }
}

/**
 * Renders the report in the stdout format and every requested output, writes the files, then prints. A file that
 * cannot be written does not stop the others; the first such problem is thrown as a UsageError (exit 2) after
 * everything else is done.
 */
export function emitReport(report: Report, options: { format: string; outputs: Output[]; color: boolean }): void {
  // Nothing secret is recorded today; should a credential ever slip into a report, it leaves as ***.
  const safe = redactSecrets(report);
  const render = (format: string, color: boolean): string => formats.get(format)!.render(safe, { color });
  let problem: UsageError | undefined;
  const toStdout: string[] = [render(options.format, options.color)];
  for (const output of options.outputs) {
    if (output.file === '-') {
      toStdout.push(render(output.format, options.color));
      continue;
    }
    try {
      writeFileAtomic(output.file, render(output.format, false));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === undefined) throw err;
      problem ??= new UsageError(`--${output.format} ${output.file}: cannot write it (${code})`);
    }
  }
  process.stdout.write(toStdout.join(''));
  if (problem) throw problem;
}

/** Reads and validates a saved report; every problem is one line naming the file (exit 2). */
export async function readReportFile(file: string): Promise<Report> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileError(file, 0, '', `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Loaded here, not at start-up: only the commands that read reports need ajv.
  const { parseReport } = await import('../report/validate.js');
  return parseReport(text, file);
}
