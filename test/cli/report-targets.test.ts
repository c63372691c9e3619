/**
 * Report files over what a user owns: a device, a symbolic link, a FIFO, `/dev/stdout`, a full disk. Each is made
 * for real (mknod, mkfifo, a tmpfs of 64 KB) and `pushcheck report`, which renders a saved report without probing
 * anything, writes into it: the program in process (runInProcess), and the built CLI where a process matters (its
 * stdout as /dev/stdout, another user, a FIFO whose reader starts after it).
 */
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../src/types.js';
import { BIN, runCli, runInProcess } from '../helpers/cli.js';
import { startTcpServer } from '../helpers/servers.js';
import { richReport, richResults } from '../report/fixture.js';

const isRoot = process.getuid?.() === 0;
/** Devices, tmpfs mounts and another user need root; under CI a missing root is a failure, elsewhere a printed skip. */
if (!isRoot) {
  if (process.env.CI) throw new Error('report-targets: these tests need root (mknod, mount, another uid) and CI runs as root');
  console.log('report-target tests that need root skipped: mknod, mount -t tmpfs and running as another user need root');
}

let dir: string;
let saved: string;
let savedReport: Report;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-targets-'));
  chmodSync(dir, 0o755);
  // Many results, so that every format is well over the 16 KB the full-disk test leaves free.
  const results = Array.from({ length: 40 }, (_, i) => richResults().map((r) => ({ ...r, rule: `${r.rule}-${i}` }))).flat();
  savedReport = richReport({ results });
  saved = path.join(dir, 'saved.json');
  writeFileSync(saved, JSON.stringify(savedReport));
  chmodSync(saved, 0o644);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function fresh(name: string): string {
  const sub = path.join(dir, name);
  mkdirSync(sub);
  return sub;
}

describe('report files that are not regular files', () => {
  it.skipIf(!isRoot)('a character device stays a device, and is written through (root, /dev/null-like)', async () => {
    const sub = fresh('device');
    const fakeNull = path.join(sub, 'fakenull');
    execFileSync('mknod', ['-m', '666', fakeNull, 'c', '1', '3']);
    const run = await runInProcess(['report', saved, '--json', fakeNull, '--junit', fakeNull.replace('fakenull', 'fakenull2'), '--format', 'json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(savedReport.exitCode);
    expect(lstatSync(fakeNull).isCharacterDevice()).toBe(true);
    expect(readdirSync(sub).sort()).toEqual(['fakenull', 'fakenull2']);
  });

  it.skipIf(!isRoot)('a full device (/dev/full) is one line and exit 2, and stays a device', async () => {
    const sub = fresh('full-device');
    const fakeFull = path.join(sub, 'fakefull');
    execFileSync('mknod', ['-m', '666', fakeFull, 'c', '1', '7']);
    const run = await runInProcess(['report', saved, '--json', fakeFull]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`pushcheck: --json ${fakeFull}: cannot write it (ENOSPC)\n`);
    expect(lstatSync(fakeFull).isCharacterDevice()).toBe(true);
  });

  it('a symbolic link stays a link; the file it names is replaced, in its own directory, keeping its mode', async () => {
    const sub = fresh('link');
    const realDir = path.join(sub, 'textfile');
    mkdirSync(realDir);
    const real = path.join(realDir, 'pushcheck.prom');
    writeFileSync(real, 'old\n');
    chmodSync(real, 0o640);
    const link = path.join(sub, 'pushcheck.prom');
    symlinkSync('textfile/pushcheck.prom', link);
    // A second link to the first: links are followed to the end.
    const link2 = path.join(sub, 'again.prom');
    symlinkSync(link, link2);
    const run = await runInProcess(['report', saved, '--prometheus', link2, '--format', 'json']);
    expect(run.stderr).toBe('');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(lstatSync(link2).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('textfile/pushcheck.prom');
    const text = readFileSync(real, 'utf8');
    expect(text).toMatch(/^# HELP /);
    expect(text).toContain('pushcheck_run_exit_code');
    expect(statSync(real).mode & 0o777).toBe(0o640);
    expect(readdirSync(realDir)).toEqual(['pushcheck.prom']);
    expect(readdirSync(sub).sort()).toEqual(['again.prom', 'pushcheck.prom', 'textfile']);
  });

  it('a dangling symbolic link gets the file it names created, as a shell’s > does', async () => {
    const sub = fresh('dangling');
    const link = path.join(sub, 'report.json');
    symlinkSync('made.json', link);
    const run = await runInProcess(['report', saved, '--json', link, '--format', 'markdown']);
    expect(run.stderr).toBe('');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(JSON.parse(readFileSync(path.join(sub, 'made.json'), 'utf8'))).toEqual(savedReport);
  });

  it('a loop of symbolic links is refused before anything else, in one line', async () => {
    const sub = fresh('loop');
    symlinkSync('b', path.join(sub, 'a'));
    symlinkSync('a', path.join(sub, 'b'));
    const run = await runInProcess(['report', saved, '--json', path.join(sub, 'a')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`pushcheck: --json ${path.join(sub, 'a')}: cannot write into ${sub} (ELOOP)\n`);
    expect(run.stdout).toBe('');
  });

  it('a FIFO stays a FIFO and its reader gets the whole report', async () => {
    const sub = fresh('fifo');
    const fifo = path.join(sub, 'pipe');
    execFileSync('mkfifo', [fifo]);
    // The reader opens the FIFO after pushcheck has started: pushcheck waits for it, as a shell's > does.
    const run = runCli(['report', saved, '--junit', fifo, '--format', 'json']);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const reader = spawn('cat', [fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
    let read = '';
    reader.stdout.setEncoding('utf8').on('data', (chunk: string) => (read += chunk));
    const readerDone = new Promise((resolve) => reader.on('close', resolve));
    // Bounded: should pushcheck never open the FIFO, the reader would wait for a writer forever.
    const result = await run;
    const killer = setTimeout(() => reader.kill(), 5000);
    await readerDone;
    clearTimeout(killer);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(savedReport.exitCode);
    expect(read).toMatch(/^<\?xml[\s\S]*<\/testsuites>\n$/);
    expect(lstatSync(fifo).isFIFO()).toBe(true);
  });

  it('/dev/stdout is stdout (after the --format output), for root and for anyone else', async () => {
    const asRoot = await runCli(['report', saved, '--json', '/dev/stdout', '--format', 'markdown']);
    expect(asRoot.stderr).toBe('');
    const [markdown, json] = asRoot.stdout.split(/(?=^\{$)/m);
    expect(markdown).toMatch(/^## pushcheck/);
    expect(JSON.parse(json!)).toEqual(savedReport);
    if (!isRoot) return;
    // An ordinary user must be able to reach the checkout (a clone inside a 0700 folder, such as mktemp -d's, is not).
    const closed = folderClosedToOthers(BIN);
    if (closed) {
      console.log(`skipped the part as uid 65534: ${closed} is not open to other users`);
      return;
    }
    // As an ordinary user /dev is not writable: that must not matter.
    const asNobody = spawnSync(process.execPath, [BIN, 'report', saved, '--json', '/dev/stdout', '--junit', '/dev/null', '--format', 'markdown'], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
      timeout: 30_000,
    });
    expect(asNobody.stderr).toBe('');
    expect(asNobody.status).toBe(savedReport.exitCode);
    expect(JSON.parse(asNobody.stdout.split(/(?=^\{$)/m)[1]!)).toEqual(savedReport);
    expect(lstatSync('/dev/null').isCharacterDevice()).toBe(true);
  });
});

/** The first folder above `file` that other users cannot enter, if any. */
function folderClosedToOthers(file: string): string | undefined {
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

describe.skipIf(!isRoot)('a full disk', () => {
  let mount: string;

  beforeAll(() => {
    mount = path.join(dir, 'tiny');
    mkdirSync(mount);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0777', 'tmpfs', mount]);
  });

  afterAll(() => {
    if (mount) spawnSync('umount', [mount]);
  });

  /** Fills the disk up to its last `left` bytes (16 KB: less than any format of the saved report takes); returns the filler. */
  function fillUp(left = 16 * 1024): string {
    const filler = path.join(mount, 'filler');
    const [blocks, blockSize] = execFileSync('stat', ['-f', '-c', '%a %S', mount], { encoding: 'utf8' }).trim().split(' ').map(Number);
    writeFileSync(filler, Buffer.alloc(Math.max(0, blocks! * blockSize! - left)));
    return filler;
  }

  it.each(['json', 'junit', 'markdown', 'prometheus'])('keeps the previous --%s file, leaves no temporary file, says so, exits 2', async (format) => {
    const previous = path.join(mount, `previous.${format}`);
    writeFileSync(previous, 'the previous report\n');
    const filler = fillUp();
    try {
      const run = await runInProcess(['report', saved, `--${format}`, previous, '--format', 'json']);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`pushcheck: --${format} ${previous}: cannot write it (ENOSPC); the previous file is unchanged\n`);
      expect(readFileSync(previous, 'utf8')).toBe('the previous report\n');
      expect(readdirSync(mount).sort()).toEqual(['filler', `previous.${format}`]);
      // stdout still gets its report: only the file failed.
      expect(JSON.parse(run.stdout)).toEqual(savedReport);
    } finally {
      rmSync(filler);
      rmSync(previous);
    }
  });

  /** Runs the built CLI with its stdout a file on the disk (`> stdout.json`), filled up to its last `left` bytes. */
  function runToStdoutOnDisk(args: string[], left?: number): SpawnSyncReturns<string> {
    const redirected = path.join(mount, 'stdout.json');
    const filler = fillUp(left);
    const out = openSync(redirected, 'w');
    try {
      return spawnSync(process.execPath, [BIN, ...args], { stdio: ['ignore', out, 'pipe'], encoding: 'utf8', timeout: 30_000 });
    } finally {
      closeSync(out);
      rmSync(filler);
      rmSync(redirected);
    }
  }

  it('a stdout redirected to a file on it (> report.json) says so and exits 2, not 0 with the report cut', () => {
    // Node's stream for a file wrote once and dropped what the disk did not take: 16 KB of the report, exit 0.
    const run = runToStdoutOnDisk(['report', saved, '--format', 'json']);
    expect(run.stderr).toBe('pushcheck: cannot write to stdout (ENOSPC)\n');
    expect(run.status).toBe(2);
  });

  it('a check whose stdout is a file on it says so and exits 2 (the check ends through exitIfDone, not the event loop)', async () => {
    const listener = await startTcpServer();
    const rules = path.join(dir, 'one-target.yaml');
    writeFileSync(rules, ['id: local', 'title: Local', 'rules:', '  - id: "1"', '    host: a.push.test', `    ports: [${listener.port}]`, '    check: tcp', '    purpose: p', '    impact: i', '    severity: critical', ''].join('\n'));
    try {
      // The kernel completes the connect from its backlog while spawnSync holds this process's event loop. A
      // one-target report is smaller than 16 KB: the disk is filled whole.
      const run = runToStdoutOnDisk([rules, '--resolve', 'a.push.test=127.0.0.1', '-f', 'json'], 0);
      expect(run.stderr).toBe('pushcheck: cannot write to stdout (ENOSPC)\n');
      expect(run.status).toBe(2);
    } finally {
      await listener.close();
    }
  });

  it('a stdout file and a --junit file on it that both fail: each said, the file first, the previous file kept, exit 2', () => {
    const previous = path.join(mount, 'previous.xml');
    writeFileSync(previous, 'the previous report\n');
    try {
      // The stdout write's failure ended the process at once: the --junit file's line was never printed.
      const run = runToStdoutOnDisk(['report', saved, '--format', 'json', '--junit', previous]);
      expect(run.stderr).toBe(`pushcheck: --junit ${previous}: cannot write it (ENOSPC); the previous file is unchanged\npushcheck: cannot write to stdout (ENOSPC)\n`);
      expect(run.status).toBe(2);
      expect(readFileSync(previous, 'utf8')).toBe('the previous report\n');
    } finally {
      rmSync(previous);
    }
  });
});
