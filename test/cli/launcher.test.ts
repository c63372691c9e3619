/**
 * bin/pushcheck.js run as a program: its shell part starts Node without NODE_EXTRA_CA_CERTS and hands the value
 * over (src/extra-ca-certs.ts), so that Node 20 does not parse the file at every start. Shown with a stand-in `node`
 * first on PATH that reports what it was given (environment, arguments, pid), and with the real Node behind such
 * stand-ins. What pushcheck then trusts is shown in test/probes/trust.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, type CertificateAuthority } from '../../src/harness/certs.js';
import { HANDOVER, takeDeferredExtraCaCerts } from '../../src/extra-ca-certs.js';
import { BIN, runCli } from '../helpers/cli.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { startTlsServer, type TestServer } from '../helpers/servers.js';

let dir: string;
/** A `node` that prints what it was given as JSON and exits with FAKE_NODE_EXIT, or by FAKE_NODE_SIGNAL. */
let reporting: string;

/** An executable `node` in a folder of its own, for the front of PATH. */
function standIn(name: string, script: string): string {
  const folder = path.join(dir, name);
  mkdirSync(folder);
  writeFileSync(path.join(folder, 'node'), `#!/bin/sh\n${script}\n`);
  chmodSync(path.join(folder, 'node'), 0o755);
  return folder;
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-launcher-'));
  const report = path.join(dir, 'report.cjs');
  writeFileSync(
    report,
    `const env = process.env;
process.stdout.write(JSON.stringify({ pid: process.pid, argv: process.argv.slice(2), extra: env.NODE_EXTRA_CA_CERTS ?? null, handover: env.${HANDOVER} ?? null }));
if (env.FAKE_NODE_SIGNAL) process.kill(process.pid, env.FAKE_NODE_SIGNAL);
process.exitCode = Number(env.FAKE_NODE_EXIT ?? 0);
`,
  );
  // NODE_OPTIONS emptied for the reporter itself: the preloads the cases name do not exist.
  reporting = standIn('reporting', `NODE_OPTIONS= exec ${JSON.stringify(process.execPath)} ${JSON.stringify(report)} "$@"`);
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Reported {
  pid: number;
  argv: string[];
  extra: string | null;
  handover: string | null;
}

/** Runs the file itself (its shell part) with only `env` and the reporting `node` first on PATH. */
function launch(env: NodeJS.ProcessEnv, args: string[] = [], file = BIN) {
  const run = spawnSync(file, args, { env: { PATH: `${reporting}:/usr/bin:/bin`, ...env }, encoding: 'utf8' });
  return { ...run, reported: run.stdout ? (JSON.parse(run.stdout) as Reported) : undefined };
}

describe('the shell part of bin/pushcheck.js', () => {
  it('moves a set NODE_EXTRA_CA_CERTS into the hand-over, naming the pid node runs as; an empty or unset one stays as it is', () => {
    const file = '/etc/some where/ca:bundle.pem';
    const set = launch({ NODE_EXTRA_CA_CERTS: file });
    expect(set.status).toBe(0);
    expect(set.reported).toMatchObject({ extra: null, handover: `${set.reported?.pid}:${file}` });
    expect(launch({ NODE_EXTRA_CA_CERTS: '' }).reported).toMatchObject({ extra: '', handover: null });
    expect(launch({}).reported).toMatchObject({ extra: null, handover: null });
  });

  it.each([
    ['--use-openssl-ca'],
    ['--use-bundled-ca'],
    ['--use-system-ca'],
    ['--max-old-space-size=200 --use-openssl-ca'],
    ['--require ./preload.cjs'],
    ['-r ./preload.cjs'],
    ['--import ./preload.mjs'],
    ['--experimental-loader ./loader.mjs'],
  ])('leaves NODE_EXTRA_CA_CERTS to Node when NODE_OPTIONS is %j (a CA store chosen, or code run before pushcheck)', (options) => {
    const run = launch({ NODE_EXTRA_CA_CERTS: '/ca.pem', NODE_OPTIONS: options });
    expect(run.reported).toMatchObject({ extra: '/ca.pem', handover: null });
  });

  it('defers beside other NODE_OPTIONS, and not with NODE_USE_SYSTEM_CA', () => {
    expect(launch({ NODE_EXTRA_CA_CERTS: '/ca.pem', NODE_OPTIONS: '--max-old-space-size=200 --report-on-signal' }).reported?.handover).toMatch(/^\d+:\/ca\.pem$/);
    expect(launch({ NODE_EXTRA_CA_CERTS: '/ca.pem', NODE_USE_SYSTEM_CA: '1' }).reported).toMatchObject({ extra: '/ca.pem', handover: null });
  });

  it('drops a hand-over it did not make', () => {
    expect(launch({ [HANDOVER]: '1:/stale.pem' }).reported?.handover).toBeNull();
    const run = launch({ [HANDOVER]: '1:/stale.pem', NODE_EXTRA_CA_CERTS: '/ca.pem' });
    expect(run.reported).toMatchObject({ extra: null, handover: `${run.reported?.pid}:/ca.pem` });
  });

  it('passes every argument through untouched, and the file as npm linked it', () => {
    const args = ['a b', '"double"', "'single'", '', '--', '*', '?', '[ab]', '$HOME', '`id`', 'back\\slash', 'two\nlines', '-V'];
    const link = path.join(dir, 'pushcheck');
    symlinkSync(BIN, link);
    const run = launch({ NODE_EXTRA_CA_CERTS: '/ca.pem' }, args, link);
    expect(run.reported?.argv).toEqual([link, ...args]);
  });

  it("exits as node exits: its code, its signal (exec: no shell waits in between)", () => {
    expect(launch({ FAKE_NODE_EXIT: '7' }).status).toBe(7);
    expect(launch({ NODE_EXTRA_CA_CERTS: '/ca.pem', FAKE_NODE_EXIT: '3' }).status).toBe(3);
    const killed = launch({ NODE_EXTRA_CA_CERTS: '/ca.pem', FAKE_NODE_SIGNAL: 'SIGTERM' });
    expect(killed.signal).toBe('SIGTERM');
    expect(killed.status).toBeNull();
  });
});

describe('the JavaScript of bin/pushcheck.js', () => {
  it("is strict: the shell lines are string directives before 'use strict', which stays in the directive prologue", () => {
    // Node strips the #! line and wraps a CommonJS file in a function: compiled so, a `with` only strict code refuses.
    const body = readFileSync(BIN, 'utf8').replace(/^#!.*/, '');
    expect(body.split('\n')[1]).toMatch(/^":" \/\/; /);
    expect(() => vm.compileFunction(`${body}\nwith ({}) {}`, ['require', '__dirname'])).toThrow(/strict mode/i);
    expect(() => vm.compileFunction(`${body.replace("'use strict';", '')}\nwith ({}) {}`, ['require', '__dirname'])).not.toThrow();
  });
});

describe('takeDeferredExtraCaCerts', () => {
  it('takes a hand-over for this pid, or its parent, while NODE_EXTRA_CA_CERTS is absent; drops any other', () => {
    const mine = { [HANDOVER]: '42:/a b:c.pem', KEEP: 'x' };
    expect(takeDeferredExtraCaCerts(mine, 42, 1)).toBe('/a b:c.pem');
    expect(mine).toEqual({ NODE_EXTRA_CA_CERTS: '/a b:c.pem', KEEP: 'x' });
    const shim = { [HANDOVER]: '7:/ca.pem' };
    expect(takeDeferredExtraCaCerts(shim, 42, 7)).toBe('/ca.pem');
    for (const handover of ['43:/ca.pem', '42:', ':/ca.pem', '/ca.pem', 'x42:/ca.pem']) {
      const other: NodeJS.ProcessEnv = { [HANDOVER]: handover };
      expect(takeDeferredExtraCaCerts(other, 42, 1), handover).toBeUndefined();
      expect(other, handover).toEqual({});
    }
    const started = { [HANDOVER]: '42:/ca.pem', NODE_EXTRA_CA_CERTS: '/user.pem' };
    expect(takeDeferredExtraCaCerts(started, 42, 1)).toBeUndefined();
    expect(started).toEqual({ NODE_EXTRA_CA_CERTS: '/user.pem' });
    expect(takeDeferredExtraCaCerts({}, 42, 1)).toBeUndefined();
  });
});

describe('with the real Node behind the stand-in', () => {
  let ca: CertificateAuthority;
  let server: TestServer;
  let rules: string;
  let caFile: string;
  beforeAll(async () => {
    ca = await createCertificateAuthority('Launcher Test CA');
    server = await startTlsServer(await ca.issue({ names: ['push.launcher.test'] }));
    rules = writeRuleFile(path.join(dir, 'tls.yaml'), 'launcher', 'Launcher', [{ id: 'tls', host: 'push.launcher.test', ports: [server.port], check: 'tls' }]);
    caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, ca.cert);
  });
  afterAll(() => server?.close());

  const environment = (extra: string) => ({ NODE_EXTRA_CA_CERTS: extra, NODE_OPTIONS: '', NODE_USE_SYSTEM_CA: '' });

  it('a child process of pushcheck gets NODE_EXTRA_CA_CERTS as the user set it, and no hand-over', async () => {
    // The stand-in adds a preload to the real node: once pushcheck's own start has run, it starts a child.
    const seen = path.join(dir, 'seen.json');
    const preload = path.join(dir, 'child.cjs');
    writeFileSync(
      preload,
      `setImmediate(() => {
  const { execFileSync } = require('node:child_process');
  const child = execFileSync(process.execPath, ['-p', 'JSON.stringify({ extra: process.env.NODE_EXTRA_CA_CERTS ?? null, handover: process.env.${HANDOVER} ?? null })'], { encoding: 'utf8' });
  const own = { extra: process.env.NODE_EXTRA_CA_CERTS ?? null, handover: process.env.${HANDOVER} ?? null };
  require('node:fs').writeFileSync(${JSON.stringify(seen)}, JSON.stringify({ own, child: JSON.parse(child) }));
});`,
    );
    const withPreload = standIn('preloading', `exec ${JSON.stringify(process.execPath)} --require ${JSON.stringify(preload)} "$@"`);
    const run = await runCli(['--version'], { command: [BIN], env: { ...environment(caFile), PATH: `${withPreload}:${process.env.PATH}` } });
    expect(run.code, run.stderr).toBe(0);
    const { own, child } = JSON.parse(readFileSync(seen, 'utf8')) as { own: Reported; child: Reported };
    expect(own).toEqual({ extra: caFile, handover: null });
    expect(child).toEqual({ extra: caFile, handover: null });
  });

  it('trusts the file where node is a launcher that starts the real one as a child (as a version manager may)', async () => {
    // It notes what the real node is started with: the hand-over, without NODE_EXTRA_CA_CERTS.
    const given = path.join(dir, 'given.txt');
    const forking = standIn('forking', `printf '%s %s' "$${HANDOVER}" "\${NODE_EXTRA_CA_CERTS-unset}" > ${JSON.stringify(given)}\n${JSON.stringify(process.execPath)} "$@"\nexit $?`);
    const run = await runCli([rules, '--resolve', 'push.launcher.test=127.0.0.1', '-f', 'json'], { command: [BIN], env: { ...environment(caFile), PATH: `${forking}:${process.env.PATH}` } });
    const [handover, extra] = readFileSync(given, 'utf8').split(' ');
    expect(handover).toMatch(/^\d+:/);
    expect(handover?.replace(/^\d+:/, '')).toBe(caFile);
    expect(extra).toBe('unset');
    expect(run.stderr).toBe('');
    expect(JSON.parse(run.stdout)).toMatchObject({ results: [{ rule: 'tls', status: 'pass' }] });
  });
});
