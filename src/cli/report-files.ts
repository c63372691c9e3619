/**
 * Where reports go: one format on stdout plus any number of files (`--json FILE`, `--junit FILE`, …, `-` for
 * stdout) from the same run, and reading a saved report back.
 *
 * A regular file is written to a temporary file in its own directory, flushed, and renamed over the target, so a
 * reader (a CI artifact upload, node_exporter's textfile collector) never sees half a report, and a failed write
 * (a full disk) leaves the old file as it was. A symbolic link is followed to the file it names, which is replaced
 * in its own directory: the link stays a link. Anything else (a device, a FIFO, `/dev/stdout`) is written in
 * place, as a shell's `>` does: renaming over `/dev/null` would turn it into a file. Regular files are written
 * synchronously on purpose: a second Ctrl-C cannot cut in between writing and renaming.
 */
import {
  accessSync,
  closeSync,
  constants,
  fchmodSync,
  fchownSync,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  type Stats,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { FileError, isUsageError, UsageError } from '../errors.js';
import { formatNames, loadFormat } from '../report/index.js';
import { redactSecrets } from '../secrets.js';
import type { Report } from '../types.js';
import { stdoutFailed } from './messages.js';
import { terminalColumns } from './options.js';
import { cryptoModule } from '../v8-defaults.js';

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

/** Longest file name most Linux and macOS file systems take, in bytes (NAME_MAX). */
const NAME_MAX = 255;
/** How many symbolic links are followed before giving up, as Linux does (ELOOP). */
const MAX_LINKS = 40;

/** Where a report file really goes, once links are followed. */
type Destination =
  /** `/dev/stdout`, `/dev/fd/3`, `/proc/self/fd/3`: a descriptor this process already holds, written as it is. */
  | { kind: 'descriptor'; fd: number }
  /** A regular file, or none yet: replaced whole, in its own directory. */
  | { kind: 'replace'; file: string; previous: Stats | undefined }
  /** A device, a FIFO, a directory or a socket: written in place (the last two are refused). */
  | { kind: 'in-place'; file: string; stats: Stats };

const DESCRIPTOR_PATH = /^\/(?:dev\/std(in|out|err)|dev\/fd\/(\d+)|proc\/self\/fd\/(\d+))$/;
const STANDARD_DESCRIPTORS: Record<string, number> = { in: 0, out: 1, err: 2 };

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** `file` with every symbolic link of its last part followed; a path that does not exist yet is returned as it is. */
function followLinks(file: string): string {
  let current = resolve(file);
  for (let hops = 0; hops <= MAX_LINKS; hops += 1) {
    // The directory's own links are resolved by the kernel; `..` in a link must be taken from the real directory.
    current = join(realpathSync(dirname(current)), basename(current));
    let link: string;
    try {
      link = readlinkSync(current);
    } catch (err) {
      if (errnoOf(err) === 'EINVAL' || errnoOf(err) === 'ENOENT') return current; // not a link, or not there yet
      throw err;
    }
    current = resolve(dirname(current), link);
  }
  throw Object.assign(new Error(`too many levels of symbolic links: ${file}`), { code: 'ELOOP' });
}

function destinationOf(file: string): Destination {
  const descriptor = DESCRIPTOR_PATH.exec(resolve(file));
  if (descriptor) return { kind: 'descriptor', fd: descriptor[1] ? STANDARD_DESCRIPTORS[descriptor[1]]! : Number(descriptor[2] ?? descriptor[3]) };
  const real = followLinks(file);
  let stats: Stats | undefined;
  try {
    stats = statSync(real);
  } catch (err) {
    if (errnoOf(err) !== 'ENOENT') throw err;
  }
  return stats && !stats.isFile() ? { kind: 'in-place', file: real, stats } : { kind: 'replace', file: real, previous: stats };
}

/** `.NAME.PID.RANDOM.tmp` beside the file; a long NAME is cut so that the temporary name still fits NAME_MAX. */
function temporaryName(file: string): string {
  const name = basename(file);
  const stem = Buffer.byteLength(name) <= NAME_MAX - 40 ? name : 'pushcheck-report';
  return join(dirname(file), `.${stem}.${process.pid}.${cryptoModule().randomBytes(4).toString('hex')}.tmp`);
}

/** UTF-16 code units of a report encoded and written at a time: at most 96 KiB of UTF-8, below malloc's mmap threshold. */
export const PIECE_UNITS = 32 * 1024;

/**
 * Writes `text` as UTF-8, every byte, however many calls it takes (a full disk ends it with ENOSPC, never with a short
 * file). In pieces encoded into one buffer: `Buffer.from()` of a 554 kB report measured it, then copied it whole into
 * memory touched for the first time (about 140 page faults).
 */
function writeText(fd: number, text: string): void {
  const buffer = Buffer.allocUnsafeSlow(Math.min(text.length, PIECE_UNITS) * 3);
  for (let start = 0; start < text.length; ) {
    let end = Math.min(start + PIECE_UNITS, text.length);
    // A surrogate pair is not cut in two: each half alone would be written as U+FFFD.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    const length = buffer.write(text.slice(start, end));
    for (let offset = 0; offset < length; ) offset += writeSync(fd, buffer, offset, length - offset);
    start = end;
  }
}

/** A file the command reads (a rule file, a --ca file, a saved report), which no report may overwrite. */
export interface Input {
  file: string;
  /** What it is, for the message: "the rule file", "the --ca file", "the report being read". */
  what: string;
}

/** Device and inode: the same file under any name, through links, hard links included. */
function identity(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`;
}

function inputIdentities(inputs: Input[]): Map<string, Input> {
  const byIdentity = new Map<string, Input>();
  for (const input of inputs) {
    try {
      byIdentity.set(identity(statSync(input.file)), input);
    } catch {
      // An input that cannot be read is refused by whoever reads it.
    }
  }
  return byIdentity;
}

/**
 * Refuses, before anything is probed, a report that could not be written: a missing or read-only directory, a
 * directory or socket named as the file, a name too long, a place where no file can be made (`/proc`), a
 * descriptor that is not open, two reports into one file, and a report over one of the command's inputs.
 */
export function checkOutputs(outputs: Output[], inputs: Input[] = []): void {
  const seen = new Map<string, string>();
  const read = inputIdentities(inputs);
  for (const { format, file } of outputs) {
    if (file === '-') continue;
    if (file === '') throw new UsageError(`--${format}: give a file name, or - for stdout`);
    const where = `--${format} ${file}`;
    let destination: Destination;
    try {
      destination = destinationOf(file);
    } catch (err) {
      if (errnoOf(err) === 'ENAMETOOLONG') throw nameTooLong(where);
      throw new UsageError(`${where}: cannot write into ${dirname(resolve(file))} (${errnoOf(err) ?? 'error'})`);
    }
    const key = destination.kind === 'descriptor' ? `fd:${destination.fd}` : destination.file;
    const other = seen.get(key);
    if (other) throw new UsageError(`--${other} and --${format} both write ${file}: give each report its own file`);
    seen.set(key, format);
    const existing = destination.kind === 'replace' ? destination.previous : destination.kind === 'in-place' ? destination.stats : undefined;
    const input = existing && existing.isFile() ? read.get(identity(existing)) : undefined;
    if (input) throw new UsageError(`${where}: that is ${input.what} ${input.file}, which this command reads: write the report to another file`);
    checkDestination(where, destination);
  }
}

function nameTooLong(where: string): UsageError {
  return new UsageError(`${where}: the file name is too long (over ${NAME_MAX} bytes) (ENAMETOOLONG)`);
}

function checkDestination(where: string, destination: Destination): void {
  if (destination.kind === 'descriptor') {
    try {
      fstatSync(destination.fd);
    } catch (err) {
      throw new UsageError(`${where}: descriptor ${destination.fd} is not open (${errnoOf(err) ?? 'error'})`);
    }
    return;
  }
  if (destination.kind === 'in-place') {
    if (destination.stats.isDirectory()) throw new UsageError(`${where}: is a directory`);
    if (destination.stats.isSocket()) throw new UsageError(`${where}: is a socket, not a file`);
    try {
      accessSync(destination.file, constants.W_OK);
    } catch (err) {
      throw new UsageError(`${where}: cannot write it (${errnoOf(err) ?? 'error'})`);
    }
    return;
  }
  const dir = dirname(destination.file);
  if (Buffer.byteLength(basename(destination.file)) > NAME_MAX) throw nameTooLong(where);
  // Making (and removing) the temporary file is the only sure test: permissions, read-only mounts, /proc, quotas.
  const temp = temporaryName(destination.file);
  try {
    closeSync(openSync(temp, 'wx', 0o600));
    unlinkSync(temp);
  } catch (err) {
    throw new UsageError(`${where}: cannot write into ${dir} (${errnoOf(err) ?? 'error'})`);
  }
}

/** Replaces a regular file whole: a temporary file beside it, flushed to disk, renamed over it. */
function replaceFile(file: string, text: string, previous: Stats | undefined): void {
  const temp = temporaryName(file);
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'wx', 0o666);
    if (previous) {
      // The new file takes the old one's place, so it keeps its permissions (and, for root, its owner).
      fchmodSync(fd, previous.mode & 0o7777);
      if (process.getuid?.() === 0) fchownSync(fd, previous.uid, previous.gid);
    }
    writeText(fd, text);
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

/** Writes a device or a FIFO as it is. Asynchronous: opening a FIFO waits for its reader, and Ctrl-C must still work. */
async function writeInPlace(file: string, text: string): Promise<void> {
  const bytes = Buffer.from(text, 'utf8');
  // node:fs/promises loads here, not with every run (about 1.2 ms): reports are rarely written to a FIFO.
  const handle = await process.getBuiltinModule('node:fs/promises').open(file, 'w');
  try {
    for (let offset = 0; offset < bytes.length; ) offset += (await handle.write(bytes, offset)).bytesWritten;
  } finally {
    await handle.close();
  }
}

/**
 * Writes `text` to `file` as {@link destinationOf} says: replaced whole, written in place, or into a descriptor.
 * A failure is a UsageError naming `where` and saying what became of the file.
 */
export async function writeReportFile(file: string, text: string, where = file): Promise<void> {
  let destination: Destination | undefined;
  try {
    destination = destinationOf(file);
    if (destination.kind === 'descriptor') writeText(destination.fd, text);
    else if (destination.kind === 'in-place') await writeInPlace(destination.file, text);
    else replaceFile(destination.file, text, destination.previous);
  } catch (err) {
    const code = errnoOf(err);
    if (code === undefined) throw err;
    const kept = destination?.kind !== 'replace' ? '' : destination.previous ? '; the previous file is unchanged' : '; nothing was written';
    throw new UsageError(`${where}: cannot write it (${code})${kept}`);
  }
}

/** `/dev/stdout` and its spellings go after the stdout format, as `-` does, not through a second descriptor. */
function isStdout(file: string): boolean {
  if (file === '-') return true;
  const descriptor = DESCRIPTOR_PATH.exec(resolve(file));
  return descriptor !== null && (descriptor[1] === 'out' || descriptor[2] === '1' || descriptor[3] === '1');
}

/**
 * Renders the report in the stdout format and every requested output, writes the files, then prints. A file that
 * cannot be written does not stop the others; the first such problem is thrown as a UsageError (exit 2) after
 * everything else is done.
 */
export async function emitReport(report: Report, options: { format: string; outputs: Output[]; color: boolean }): Promise<void> {
  // Nothing secret is recorded today; should a credential ever slip into a report, it leaves as ***.
  let safe: Report | undefined;
  const columns = terminalColumns(process.stdout);
  const render = async (name: string, color: boolean, toTerminal = false): Promise<string> => {
    const format = await loadFormat(name);
    const renderOptions = { color, ...(toTerminal && columns !== undefined && { columns }) };
    if (name === 'json') {
      // JSON holds every string of the report whole, and never escapes an @: a text without one is also the text of
      // the redacted report, which then need not be made (1,000 results: 2 ms).
      const text = format.render(report, renderOptions);
      if (!text.includes('@')) return text;
    }
    safe ??= redactSecrets(report);
    return format.render(safe, renderOptions);
  };
  let problem: UsageError | undefined;
  const toStdout: string[] = [await render(options.format, options.color, true)];
  for (const output of options.outputs) {
    if (isStdout(output.file)) {
      toStdout.push(await render(output.format, options.color));
      continue;
    }
    try {
      await writeReportFile(output.file, await render(output.format, false), `--${output.format} ${output.file}`);
    } catch (err) {
      if (!isUsageError(err)) throw err;
      problem ??= err;
    }
  }
  printReports(toStdout);
  if (problem) throw problem;
}

/**
 * Prints the stdout reports. A regular file (`> report.json`) is written here, every byte and in pieces (writeText):
 * Node's stream for it writes once and drops what a full disk did not take, which left a cut report and exit code 0.
 * So is a device that is not a terminal (`> /dev/null`, `> /dev/full`), which Node's stream writes the same way,
 * after a UTF-8 copy of the whole text (554 kB for 1,000 targets: about 135 page faults). Anything else (a pipe, a
 * terminal), or a stdout whose write was replaced (a test or a preload capturing it), goes through process.stdout.
 */
function printReports(texts: string[]): void {
  if (!stdoutWrittenHere() || Object.hasOwn(process.stdout, 'write')) {
    process.stdout.write(texts.join(''));
    return;
  }
  try {
    for (const text of texts) writeText(1, text);
  } catch (err) {
    if (errnoOf(err) === undefined) throw err;
    // A tick later, as Node's stream tells a failed write (`> /dev/full`): a report file's problem, which emitReport
    // throws after this, is printed first (exiting here lost it), and exitIfDone's callback, a later tick, comes after.
    process.nextTick(stdoutFailed, err as NodeJS.ErrnoException);
  }
}

/** Whether stdout is a regular file or a device other than a terminal: what Node's stream writes synchronously. */
function stdoutWrittenHere(): boolean {
  let stats: Stats;
  try {
    stats = fstatSync(1);
  } catch {
    return false;
  }
  // isTTY: a terminal is a character device too; asked only of one, since it makes process.stdout.
  return stats.isFile() || (stats.isCharacterDevice() && process.stdout.isTTY !== true);
}

/**
 * Reads and validates a saved report; every problem is one line naming the file (exit 2). Credentials in it come back
 * masked: a file may be edited or come from elsewhere, and `pushcheck diff` shows it without emitReport's redaction.
 */
export async function readReportFile(file: string): Promise<Report> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FileError(file, 0, '', `cannot read it (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  // Loaded here, not at start-up: only the commands that read reports need ajv.
  const { parseReport } = await import('../report/validate.js');
  return redactSecrets(parseReport(text, file));
}
