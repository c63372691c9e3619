/**
 * The write probe against real servers this test starts: Debian's `rclone serve webdav` (a writable share, one over TLS, a
 * --read-only one) and pyftpdlib under /usr/bin/python3 (a user who may write, one who may only read), with a
 * wrong password and a missing folder for each; and a file path on this machine.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseWriteUrl, writeProbe } from '../../src/probes/write.js';
import { expandTargets } from '../../src/rules/expand.js';
import { resolveRuleSets } from '../../src/rules/builtin.js';
import type { Rule } from '../../src/types.js';
import { BIN, runCli, runInProcess } from '../helpers/cli.js';
import { probeContext } from '../helpers/probe-context.js';
import { busyFor } from '../helpers/starved.js';
import { rule as literalRule } from '../helpers/literals.js';
import { QuickController, timedOut } from '../../src/probes/phases.js';
import { closedPort, startTcpServer } from '../helpers/servers.js';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/harness/certs.js';

const PYTHON = '/usr/bin/python3';
const MESSAGE = '<?xml version="1.0"?><messages/>\n';

function toolsMissing(): string | undefined {
  const missing: string[] = [];
  const onPath = (command: string): boolean =>
    (process.env.PATH ?? '').split(path.delimiter).some((dir) => existsSync(path.join(dir, command)));
  if (!onPath('rclone')) missing.push('rclone');
  if (!existsSync(PYTHON)) missing.push(PYTHON);
  return missing.length > 0 ? `${missing.join(' and ')} not found (apt-get install rclone python3-pyftpdlib)` : undefined;
}

const missing = toolsMissing();
if (missing && process.env.CI === 'true') throw new Error(`write tests need ${missing}`);
if (missing) console.log(`write tests against rclone and pyftpdlib skipped: ${missing}`);

const children: ChildProcess[] = [];
let root: string;

function waitForPort(port: number, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

async function rclone(dir: string, extra: string[] = []): Promise<number> {
  const port = await closedPort();
  const child = spawn('rclone', ['serve', 'webdav', dir, '--addr', `127.0.0.1:${port}`, '--user', 'admin', '--pass', 'secret', ...extra], { stdio: 'ignore' });
  children.push(child);
  await waitForPort(port);
  return port;
}

const FTP_SERVER = `
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer
authorizer = DummyAuthorizer()
authorizer.add_user('admin', 'secret', sys.argv[1], perm='elradfmw')
authorizer.add_user('reader', 'secret', sys.argv[1], perm='elr')
FTPHandler.authorizer = authorizer
class Stalling(FTPHandler):
    # A server that stops answering after the login (sys.argv[2] == 'CWD') or at the password ('PASS'): it takes the
    # command and never replies.
    def ftp_CWD(self, path):
        if sys.argv[2] != 'CWD':
            return FTPHandler.ftp_CWD(self, path)
    def ftp_PASS(self, line):
        if sys.argv[2] != 'PASS':
            return FTPHandler.ftp_PASS(self, line)
server = FTPServer(('127.0.0.1', 0), Stalling)
print(server.socket.getsockname()[1], flush=True)
server.serve_forever()
`;

/** pyftpdlib serving `dir`; with `stallsAt`, one that never answers that command. */
function pyftpdlib(dir: string, stallsAt: 'CWD' | 'PASS' | '' = ''): Promise<number> {
  const child = spawn(PYTHON, ['-c', FTP_SERVER, dir, stallsAt], { stdio: ['ignore', 'pipe', 'ignore'] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout!.once('data', (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    child.once('exit', (code) => reject(new Error(`pyftpdlib exited with ${code}`)));
  });
}

function writeRule(overrides: Partial<Rule> = {}): Rule {
  return literalRule({ id: 'message-write', host: 'x', ports: [0], check: 'write', ...overrides });
}

function probe(url: string, overrides: Partial<Rule> = {}, trust: { ca?: string[]; insecure?: boolean } = {}) {
  const location = parseWriteUrl(url)!;
  return writeProbe.run(
    { ruleset: 'test', rule: writeRule(overrides), host: location.host, port: location.port, check: 'write', url },
    probeContext({ timeoutMs: 10_000, ...trust }),
  );
}

/** The folder holds the message file, unchanged, and nothing else: the temporary file is gone. */
function untouched(folder: string): void {
  expect(readdirSync(folder)).toEqual(['messages.ibi']);
  expect(readFileSync(path.join(folder, 'messages.ibi'), 'utf8')).toBe(MESSAGE);
}

beforeAll(() => {
  root = mkdtempSync(path.join(tmpdir(), 'pushcheck-write-'));
  for (const folder of ['dav', 'ftp', 'local']) {
    mkdirSync(path.join(root, folder, 'ibi'), { recursive: true });
    writeFileSync(path.join(root, folder, 'ibi', 'messages.ibi'), MESSAGE);
  }
});

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

describe('write URLs', () => {
  it('reads each scheme, its default port and the credentials', () => {
    expect(parseWriteUrl('webdavs://admin:p%40ss@files.example/ibi/messages.ibi')).toEqual({
      scheme: 'webdavs', host: 'files.example', port: 443, path: '/ibi/messages.ibi', user: 'admin', password: 'p@ss',
    });
    expect(parseWriteUrl('webdav://files.example/m.ibi')).toMatchObject({ scheme: 'webdav', port: 80 });
    expect(parseWriteUrl('ftp://admin@[::1]:2121/m.ibi')).toMatchObject({ scheme: 'ftp', host: '::1', port: 2121, user: 'admin' });
    expect(parseWriteUrl('ftps://files.example/m.ibi')).toMatchObject({ scheme: 'ftps', port: 21 });
    expect(parseWriteUrl('/srv/www/ibi/messages.ibi')).toEqual({ scheme: 'file', host: 'localhost', port: 0, path: '/srv/www/ibi/messages.ibi' });
    expect(parseWriteUrl('file:///srv/www/m.ibi')).toMatchObject({ scheme: 'file', path: '/srv/www/m.ibi' });
    expect(parseWriteUrl('https://files.example/m.ibi')).toBeUndefined();
    expect(parseWriteUrl('ftp://files.example/')).toBeUndefined();
  });

  it('ibi-aws: message-write is skipped with how to supply it, and probed with --var messageWriteUrl', () => {
    const [set] = resolveRuleSets(['ibi']);
    const skipped = expandTargets(set!, { vars: {} }).find((t) => t.rule.id === 'message-write');
    expect(skipped?.skipReason).toBe(
      'set --var messageWriteUrl=webdavs://your-server/path/messages.ibi to check that the IBI-aws Admin can write the message file (also ftp://, ftps:// or a file path)',
    );
    const given = expandTargets(set!, { vars: { messageWriteUrl: 'ftp://admin:pw@files.example:2121/ibi/messages.ibi' } });
    expect(given.find((t) => t.rule.id === 'message-write')).toMatchObject({ check: 'write', host: 'files.example', port: 2121 });
    expect(() => expandTargets(set!, { vars: { messageWriteUrl: 'gopher://admin:pw@x/m' } })).toThrow(
      /^--var messageWriteUrl: rule ibi-aws\/message-write needs a webdav:\/\/, webdavs:\/\/, ftp:\/\/ or ftps:\/\/ URL, or an absolute file path$/,
    );
  });
});

describe.skipIf(missing !== undefined)('WebDAV against rclone serve webdav', () => {
  let writable: number;
  let readOnly: number;
  beforeAll(async () => {
    [writable, readOnly] = await Promise.all([rclone(path.join(root, 'dav')), rclone(path.join(root, 'dav'), ['--read-only'])]);
  }, 30_000);

  it('PROPFIND, PUT, GET, DELETE, each timed; the message file untouched and nothing left behind', async () => {
    const outcome = await probe(`webdav://admin:secret@127.0.0.1:${writable}/ibi/messages.ibi`);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.note).toMatch(/^steps: PROPFIND [\d.]+ ms, PUT [\d.]+ ms, GET [\d.]+ ms, DELETE [\d.]+ ms$/);
    untouched(path.join(root, 'dav', 'ibi'));
  });

  it('the password from the environment variable the rule names', async () => {
    process.env.PUSHCHECK_TEST_WRITE_PASSWORD = 'secret';
    try {
      const outcome = await probe(`webdav://admin@127.0.0.1:${writable}/ibi/messages.ibi`, { write: { passwordEnv: 'PUSHCHECK_TEST_WRITE_PASSWORD' } });
      expect(outcome.failure).toBeUndefined();
    } finally {
      delete process.env.PUSHCHECK_TEST_WRITE_PASSWORD;
    }
  });

  it('a wrong password is auth_failed, and no password is in the outcome', async () => {
    const outcome = await probe(`webdav://admin:Wrong-Pass-1@127.0.0.1:${writable}/ibi/messages.ibi`);
    expect(outcome.failure).toMatchObject({ code: 'auth_failed', phase: 'write' });
    expect(outcome.failure?.message).toContain('PROPFIND: PROPFIND /ibi/ answered HTTP 401');
    expect(JSON.stringify(outcome)).not.toContain('Wrong-Pass-1');
  });

  it('a read-only share is write_denied at the PUT', async () => {
    const outcome = await probe(`webdav://admin:secret@127.0.0.1:${readOnly}/ibi/messages.ibi`);
    expect(outcome.failure?.code).toBe('write_denied');
    expect(outcome.failure?.message).toMatch(/PUT: PUT \/ibi\/\.pushcheck-write-[0-9a-f]+\.tmp answered HTTP 40[345]/);
    untouched(path.join(root, 'dav', 'ibi'));
  });

  it('a folder that is not there is write_not_found', async () => {
    const outcome = await probe(`webdav://admin:secret@127.0.0.1:${writable}/nowhere/messages.ibi`);
    expect(outcome.failure?.code).toBe('write_not_found');
  });

  it('nothing listening is tcp_refused', async () => {
    const port = await closedPort();
    expect((await probe(`webdav://admin:secret@127.0.0.1:${port}/ibi/messages.ibi`)).failure?.code).toBe('tcp_refused');
  });
});

describe.skipIf(missing !== undefined)('WebDAV over TLS against rclone serve webdav --cert', () => {
  let port: number;
  let ca: CertificateAuthority;
  let otherCa: CertificateAuthority;
  beforeAll(async () => {
    [ca, otherCa] = await Promise.all([createCertificateAuthority('Write Test CA'), createCertificateAuthority('Other Write CA')]);
    const leaf = await ca.issue({ names: ['127.0.0.1'] });
    writeFileSync(path.join(root, 'dav-cert.pem'), leaf.cert);
    writeFileSync(path.join(root, 'dav-key.pem'), leaf.key);
    port = await rclone(path.join(root, 'dav'), ['--cert', path.join(root, 'dav-cert.pem'), '--key', path.join(root, 'dav-key.pem')]);
  }, 30_000);

  it("trusts the run's --ca, and each run its own: another CA's list is tls_untrusted; --insecure passes without it", async () => {
    const url = `webdavs://admin:secret@127.0.0.1:${port}/ibi/messages.ibi`;
    expect((await probe(url, {}, { ca: [ca.cert] })).failure).toBeUndefined();
    untouched(path.join(root, 'dav', 'ibi'));
    expect((await probe(url, {}, { ca: [otherCa.cert] })).failure).toMatchObject({ code: 'tls_untrusted', phase: 'tls' });
    expect((await probe(url, {}, { ca: [] })).failure).toMatchObject({ code: 'tls_untrusted', phase: 'tls' });
    expect((await probe(url, {}, { ca: [otherCa.cert], insecure: true })).failure).toBeUndefined();
    untouched(path.join(root, 'dav', 'ibi'));
  });

  it('run as a program, without --ca: a NODE_EXTRA_CA_CERTS naming the CA is trusted (bin/pushcheck.js defers reading it)', async () => {
    const caFile = path.join(root, 'dav-ca.pem');
    writeFileSync(caFile, ca.cert);
    const rules = path.join(root, 'write.yaml');
    const url = `webdavs://admin:secret@127.0.0.1:${port}/ibi/messages.ibi`;
    writeFileSync(rules, ['id: w', 'title: W', 'rules:', '  - id: message-write', `    url: "${url}"`, '    check: write', '    purpose: p', '    impact: i', '    severity: critical', ''].join('\n'));
    const run = (extra: string) => runCli([rules, '-f', 'json'], { command: [BIN], env: { NODE_EXTRA_CA_CERTS: extra, NODE_OPTIONS: '', NODE_USE_SYSTEM_CA: '' } });
    const trusted = await run(caFile);
    expect(trusted.stderr).toBe('');
    expect(JSON.parse(trusted.stdout)).toMatchObject({ results: [{ rule: 'message-write', status: 'pass' }] });
    untouched(path.join(root, 'dav', 'ibi'));
    expect(JSON.parse((await run('')).stdout)).toMatchObject({ results: [{ rule: 'message-write', error: { code: 'tls_untrusted' } }] });
  });
});

describe.skipIf(missing !== undefined)('FTP against pyftpdlib', () => {
  let port: number;
  beforeAll(async () => {
    port = await pyftpdlib(path.join(root, 'ftp'));
  }, 30_000);

  it('login, CWD, STOR, SIZE, DELE, each timed; nothing left behind', async () => {
    const outcome = await probe(`ftp://admin:secret@127.0.0.1:${port}/ibi/messages.ibi`);
    expect(outcome.failure).toBeUndefined();
    expect(outcome.note).toMatch(/^steps: login [\d.]+ ms, CWD [\d.]+ ms, STOR [\d.]+ ms, SIZE [\d.]+ ms, DELE [\d.]+ ms$/);
    untouched(path.join(root, 'ftp', 'ibi'));
  });

  it('a wrong password is auth_failed (530), a read-only user write_denied (550 on STOR), a missing folder write_not_found', async () => {
    const wrong = await probe(`ftp://admin:Wrong-Pass-2@127.0.0.1:${port}/ibi/messages.ibi`);
    expect(wrong.failure?.code).toBe('auth_failed');
    expect(wrong.failure?.message).toContain('login: the server answered 530');
    expect(JSON.stringify(wrong)).not.toContain('Wrong-Pass-2');
    const reader = await probe(`ftp://reader:secret@127.0.0.1:${port}/ibi/messages.ibi`);
    expect(reader.failure?.code).toBe('write_denied');
    expect(reader.failure?.message).toContain('STOR: the server answered 550');
    const nowhere = await probe(`ftp://admin:secret@127.0.0.1:${port}/nowhere/messages.ibi`);
    expect(nowhere.failure?.code).toBe('write_not_found');
    untouched(path.join(root, 'ftp', 'ibi'));
  });

  it('a server that stops answering: the failure says the time ran out, and in which step (write_error still)', async () => {
    for (const stallsAt of ['PASS', 'CWD'] as const) {
      const stalling = await pyftpdlib(path.join(root, 'ftp'), stallsAt);
      const url = `ftp://admin:secret@127.0.0.1:${stalling}/ibi/messages.ibi`;
      const location = parseWriteUrl(url)!;
      const target = { ruleset: 'test', rule: writeRule(), host: location.host, port: location.port, check: 'write' as const, url };
      // The server stalls at its step forever, so the time allowed only has to let the steps before it finish: for
      // CWD that is a whole login with pyftpdlib, which on a busy machine can take most of 700 ms.
      const timeoutMs = stallsAt === 'PASS' ? 700 : 3000;
      const outcome = await writeProbe.run(target, probeContext({ timeoutMs }));
      const step = stallsAt === 'PASS' ? 'login' : 'CWD';
      expect(outcome.failure, stallsAt).toMatchObject({ code: 'write_error', message: `writing the message file failed (timed out after ${timeoutMs} ms (${step}))` });
      expect(outcome.note, stallsAt).toMatch(stallsAt === 'PASS' ? /^steps: login [\d.]+ ms$/ : /^steps: login [\d.]+ ms, CWD [\d.]+ ms$/);
    }
    untouched(path.join(root, 'ftp', 'ibi'));
  });

  it('a stall across the deadline: the time still ran out (not a failed step), though the FTP client\'s own timer fell due too', async () => {
    const stalling = await pyftpdlib(path.join(root, 'ftp'), 'CWD');
    const url = `ftp://admin:secret@127.0.0.1:${stalling}/ibi/messages.ibi`;
    const location = parseWriteUrl(url)!;
    const target = { ruleset: 'test', rule: writeRule(), host: location.host, port: location.port, check: 'write' as const, url };
    // The loop stands still from 200 ms before the deadline to 300 ms past it, past the client's own inactivity timer
    // (its --timeout from CWD's sending): both fall due in one turn of the loop.
    const timeoutMs = 3000;
    const started = performance.now();
    setTimeout(() => busyFor(started + timeoutMs + 300 - performance.now()), timeoutMs - 200);
    const outcome = await writeProbe.run(target, probeContext({ timeoutMs }));
    expect(outcome.failure).toMatchObject({ code: 'write_error', message: `writing the message file failed (timed out after ${timeoutMs} ms (CWD))` });
    untouched(path.join(root, 'ftp', 'ibi'));
  });

  it('the CLI (in process): the rule passes, and the password is in no output format', async () => {
    const run = await runInProcess(['ibi', '--var', `messageWriteUrl=ftp://admin:secret@127.0.0.1:${port}/ibi/messages.ibi`, '-f', 'json']);
    const report = JSON.parse(run.stdout) as { results: Array<{ rule: string; status: string }> };
    expect(report.results.find((r) => r.rule === 'message-write')?.status).toBe('pass');
    const wrong = await runInProcess(['ibi', '--var', `messageWriteUrl=ftp://admin:Wrong-Pass-3@127.0.0.1:${port}/ibi/messages.ibi`, '-f', 'table']);
    expect(wrong.stdout).toContain('auth_failed');
    expect(`${run.stdout}${run.stderr}${wrong.stdout}${wrong.stderr}`).not.toMatch(/Wrong-Pass-3|admin:secret/);
  });
});

describe('FTP against a server that never answers', () => {
  it('is ended by the budget at its deadline; one whose time ran out before the client started connects nowhere', async () => {
    const silent = await startTcpServer(); // accepts, never sends the FTP greeting
    const url = `ftp://127.0.0.1:${silent.port}/ibi/messages.ibi`;
    const target = { ruleset: 'test', rule: writeRule(), host: '127.0.0.1', port: silent.port, check: 'write' as const, url };
    try {
      let started = performance.now();
      const ended = await writeProbe.run(target, probeContext({ timeoutMs: 400 }));
      expect(performance.now() - started).toBeLessThan(3000);
      expect(ended.failure).toMatchObject({ code: 'write_error', message: expect.stringContaining('login') });
      expect(silent.accepted).toBe(1);
      // The deadline passed (or Ctrl-C came) while basic-ftp loaded: onAbort() would never close a client started now,
      // which would wait out its own 5 s timeout.
      const spent = new QuickController();
      spent.abort(timedOut(5000));
      started = performance.now();
      const late = await writeProbe.run(target, probeContext({ timeoutMs: 5000, signal: spent }));
      expect(performance.now() - started).toBeLessThan(2500);
      expect(late.failure).toMatchObject({ code: 'write_error', message: expect.stringContaining('(timed out after 5000 ms (start))') });
      expect(silent.accepted).toBe(1);
    } finally {
      await silent.close();
    }
  });
});

describe('a file path', () => {
  it('create, read, remove a temporary file beside the message file', async () => {
    const outcome = await probe(path.join(root, 'local', 'ibi', 'messages.ibi'));
    expect(outcome.failure).toBeUndefined();
    expect(outcome.note).toMatch(/^steps: folder [\d.]+ ms, create [\d.]+ ms, read [\d.]+ ms, remove [\d.]+ ms$/);
    untouched(path.join(root, 'local', 'ibi'));
  });

  it('a folder that is not there, or is a file, is write_not_found', async () => {
    expect((await probe(path.join(root, 'local', 'nowhere', 'messages.ibi'))).failure?.code).toBe('write_not_found');
    expect((await probe(path.join(root, 'local', 'ibi', 'messages.ibi', 'x.ibi'))).failure?.code).toBe('write_not_found');
  });

  it('a folder this user may not write is write_denied', async (context) => {
    // root writes anywhere on a writable file system; a read-only one (sysfs) refuses even root.
    const folder = process.getuid?.() === 0 ? '/sys' : path.join(root, 'local', 'locked');
    if (process.getuid?.() !== 0) {
      mkdirSync(folder, { mode: 0o555 });
    } else if (!existsSync(folder)) {
      console.log('skipped: no read-only /sys here to refuse root a write');
      context.skip();
    }
    const outcome = await probe(path.join(folder, 'messages.ibi'));
    expect(outcome.failure?.code).toBe('write_denied');
    expect(outcome.failure?.message).toMatch(/create: (EACCES|EROFS|EPERM) on /);
  });
});
