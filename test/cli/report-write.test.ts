/** Writing report files: all at once or not at all, no temporary file left behind, bad outputs refused up front. */
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { addOutputOptions, checkOutputs, outputsFrom, PIECE_UNITS, writeReportFile } from '../../src/cli/report-files.js';
import { isUsageError } from '../../src/errors.js';
import { formatNames } from '../../src/report/index.js';

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-write-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function usageMessage(fn: () => void): string {
  try {
    fn();
  } catch (err) {
    expect(isUsageError(err)).toBe(true);
    return (err as Error).message;
  }
  throw new Error('no usage error');
}

describe('writeReportFile', () => {
  it('creates and then replaces a file, leaving nothing else in the directory', async () => {
    const sub = mkdtempSync(path.join(dir, 'replace-'));
    const file = path.join(sub, 'report.json');
    await writeReportFile(file, 'first\n');
    expect(readFileSync(file, 'utf8')).toBe('first\n');
    const big = 'x'.repeat(5_000_000);
    await writeReportFile(file, big);
    expect(readFileSync(file, 'utf8')).toBe(big);
    expect(readdirSync(sub)).toEqual(['report.json']);
  });

  it('on failure leaves what was there untouched and removes its temporary file', async () => {
    const sub = mkdtempSync(path.join(dir, 'fail-'));
    const target = path.join(sub, 'report.xml');
    mkdirSync(target);
    writeFileSync(path.join(target, 'keep'), 'kept');
    await expect(writeReportFile(target, '<testsuites/>')).rejects.toThrow(/EISDIR/);
    expect(readdirSync(sub)).toEqual(['report.xml']);
    expect(readFileSync(path.join(target, 'keep'), 'utf8')).toBe('kept');
  });

  it('writes the UTF-8 of any text byte for byte, in pieces cut anywhere (a surrogate pair, a lone surrogate, multi-byte runs)', async () => {
    const sub = mkdtempSync(path.join(dir, 'bytes-'));
    const piece = PIECE_UNITS; // the texts' edges fall on the pieces' edges
    const texts = [
      '',
      'a'.repeat(piece),
      'a'.repeat(piece - 1) + '😀' + 'b',
      'a'.repeat(piece - 1) + '\ud800' + 'a'.repeat(piece) + '\udc00',
      'é'.repeat(piece + 7) + '😀'.repeat(piece) + '€\u{10FFFF}\n'.repeat(3000),
      `{\n  "note": "${'x😀'.repeat(3 * piece)}"\n}\n`,
    ];
    for (const [i, text] of texts.entries()) {
      const file = path.join(sub, `${i}.json`);
      await writeReportFile(file, text);
      expect(readFileSync(file).equals(Buffer.from(text, 'utf8')), `text ${i} to a file`).toBe(true);
      // A descriptor (/dev/fd/N) is written in place by the same pieces.
      const fd = openSync(path.join(sub, `${i}.fd`), 'w');
      try {
        await writeReportFile(`/dev/fd/${fd}`, text);
      } finally {
        closeSync(fd);
      }
      expect(readFileSync(path.join(sub, `${i}.fd`)).equals(Buffer.from(text, 'utf8')), `text ${i} to a descriptor`).toBe(true);
    }
  });

  it('fails without leaving anything when the directory does not exist', async () => {
    await expect(writeReportFile(path.join(dir, 'missing', 'r.json'), '{}')).rejects.toThrow(/ENOENT/);
  });
});

describe('output options', () => {
  it('offer every format but the terminal table as a file', () => {
    // What a command really gets, not the list it is built from.
    const command = addOutputOptions(new Command('check'));
    const flags = command.options.map((option) => option.flags);
    expect(flags).toEqual(formatNames.filter((name) => name !== 'table').map((name) => `--${name} <file>`));
    expect(flags).toEqual(expect.arrayContaining(['--json <file>', '--junit <file>', '--markdown <file>', '--prometheus <file>']));
    expect(outputsFrom(command.parse(['--junit', 'out.xml', '--json', '-'], { from: 'user' }).opts())).toEqual([
      { format: 'json', file: '-' },
      { format: 'junit', file: 'out.xml' },
    ]);
  });

  it('are read from the flags in registry order', () => {
    expect(outputsFrom({ junit: 'r.xml', json: '-', format: 'table' })).toEqual([
      { format: 'json', file: '-' },
      { format: 'junit', file: 'r.xml' },
    ]);
  });

  it('accept stdout and writable places', () => {
    expect(() => checkOutputs([{ format: 'json', file: '-' }, { format: 'junit', file: '-' }, { format: 'markdown', file: path.join(dir, 'r.md') }])).not.toThrow();
  });

  it('refuse a directory that does not exist, naming the option', () => {
    const missing = path.join(dir, 'nope', 'r.xml');
    expect(usageMessage(() => checkOutputs([{ format: 'junit', file: missing }]))).toBe(
      `--junit ${missing}: cannot write into ${path.dirname(missing)} (ENOENT)`,
    );
  });

  it('refuse a directory given as the file', () => {
    expect(usageMessage(() => checkOutputs([{ format: 'json', file: dir }]))).toBe(`--json ${dir}: is a directory`);
  });

  it('refuse a name longer than a file system takes, before anything runs', () => {
    const long = path.join(dir, `${'r'.repeat(256)}.json`);
    expect(usageMessage(() => checkOutputs([{ format: 'json', file: long }]))).toBe(
      `--json ${long}: the file name is too long (over 255 bytes) (ENAMETOOLONG)`,
    );
    // 250 bytes is a legal name: its temporary file must not be too long either.
    const legal = path.join(dir, `${'r'.repeat(245)}.json`);
    expect(() => checkOutputs([{ format: 'json', file: legal }])).not.toThrow();
  });

  it('refuse a place where no file can be made, even for root (/proc)', () => {
    expect(usageMessage(() => checkOutputs([{ format: 'json', file: '/proc/x' }]))).toMatch(/^--json \/proc\/x: cannot write into \/proc \((ENOENT|EACCES)\)$/);
  });

  it('refuse a descriptor that is not open', () => {
    expect(usageMessage(() => checkOutputs([{ format: 'json', file: '/dev/fd/999' }]))).toBe('--json /dev/fd/999: descriptor 999 is not open (EBADF)');
  });

  it('leave nothing behind when they accept', () => {
    const sub = mkdtempSync(path.join(dir, 'preflight-'));
    checkOutputs([{ format: 'json', file: path.join(sub, 'r.json') }]);
    expect(readdirSync(sub)).toEqual([]);
  });

  it('refuse two reports into one file', () => {
    const file = path.join(dir, 'same');
    expect(usageMessage(() => checkOutputs([{ format: 'json', file }, { format: 'junit', file: `${dir}/./same` }]))).toMatch(
      /^--json and --junit both write/,
    );
  });
});
