/**
 * The npm package as an admin installs it: `npm pack`, `npm install -g` of the tarball into a prefix of its own,
 * then `pushcheck` run from another directory. Global installs leave dev dependencies out, so this also shows that
 * none is needed at run time.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { runCli } from '../helpers/cli.js';
import { packedTarball } from '../helpers/packed.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { startTcpServer, startTlsServer } from '../helpers/servers.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let dir: string;
let bin: string;
let installed: string;
/** The code caches in the installed bundle before any run: none may ship (each run of check or rules writes its own). */
let packedCaches: string[];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-pack-'));
  // dist/ is already built (npm test builds first); the tarball takes it as it is, packed once for test/package too.
  const tarball = await packedTarball();
  expect(path.basename(tarball)).toBe(`pushcheck-${version}.tgz`);
  const prefix = path.join(dir, 'prefix');
  execFileSync(npm, ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { cwd: dir, stdio: 'ignore' });
  bin = path.join(prefix, 'bin', 'pushcheck');
  installed = path.join(prefix, 'lib', 'node_modules', 'pushcheck');
  const bundle = path.join(installed, 'dist', 'bundle');
  packedCaches = [bundle, path.join(bundle, 'lib')].flatMap((folder) => readdirSync(folder).filter((name) => name.includes('.cache')).map((name) => path.join(folder, name)));
}, 240_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** The installed `pushcheck`, run from another directory with a login's bare environment (this node on PATH). */
function run(args: string[], env: NodeJS.ProcessEnv = {}) {
  return runCli(args, { command: [bin], cwd: os.tmpdir(), baseEnv: { PATH: `${path.dirname(process.execPath)}:/usr/bin:/bin`, HOME: dir }, env });
}

describe('npm install -g ./pushcheck-<version>.tgz', () => {
  it('installs a pushcheck command that runs from any directory', async () => {
    const result = await run(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe(version);
  });

  it('carries the built-in rule sets, the report schema and the docs', async () => {
    const list = await run(['rules', 'list', '-f', 'json']);
    expect(list.code).toBe(0);
    expect((JSON.parse(list.stdout) as Array<{ id: string }>).map((set) => set.id)).toContain('moki-ios');
    expect(existsSync(path.join(installed, 'schemas', 'report.schema.json'))).toBe(true);
    expect(existsSync(path.join(installed, 'docs', 'timeouts.md'))).toBe(true);
    expect(existsSync(path.join(installed, 'README.md'))).toBe(true);
    expect(existsSync(path.join(installed, 'node_modules', 'esbuild')), 'a dev dependency was installed').toBe(false);
  });

  it('runs the demo of pushcheck ios to a green verdict', async () => {
    const result = await run(['demo', '--clean', 'ios', '-f', 'json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout) as { summary: { total: number; passed: number } };
    expect(report.summary.passed).toBe(report.summary.total);
  });

  it('checks a rule file from check.cjs, whose code cache it writes on the first run (the tarball ships none)', async () => {
    const bundle = path.join(installed, 'dist', 'bundle');
    expect(existsSync(path.join(bundle, 'check.cjs'))).toBe(true);
    expect(packedCaches, 'a code cache was packed').toEqual([]);
    const server = await startTcpServer();
    const rules = writeRuleFile(path.join(dir, 'tcp.yaml'), 'packed', 'Packed', [{ id: '1', host: '127.0.0.1', ports: [server.port], check: 'tcp' }]);
    const check = () => run([rules, '-f', 'json'], { NODE_DEBUG: 'pushcheck' });
    try {
      const first = await check();
      expect(first.code, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/check\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: written/);
      expect(first.stderr).toMatch(/lib\/yaml\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: written/);
      const second = await check();
      expect(second.code, second.stderr).toBe(0);
      expect(second.stderr).toMatch(/check\.cjs\.v[\d.]+-\w+(-[0-9a-f]+)?\.cache: used/);
      // The rule file as the first run parsed it (src/rules/parsed.ts), under HOME's cache folder.
      expect(second.stderr).toMatch(/rule file \S+tcp\.yaml: as parsed before \(\S+\/\.cache\/pushcheck\/rule-files\//);
      expect(JSON.parse(second.stdout)).toMatchObject({ summary: { total: 1, passed: 1 } });
    } finally {
      await server.close();
    }
  });

  it('with NODE_EXTRA_CA_CERTS set, trusts its CAs, and reads the file only where TLS needs it', async () => {
    const ca = await createCertificateAuthority('Packed Test CA');
    const server = await startTlsServer(await ca.issue({ names: ['push.packed.test'] }));
    const caFile = path.join(dir, 'extra-ca.pem');
    writeFileSync(caFile, ca.cert);
    const rules = writeRuleFile(path.join(dir, 'tls.yaml'), 'packed-tls', 'Packed TLS', [{ id: 'tls', host: 'push.packed.test', ports: [server.port], check: 'tls' }]);
    const check = (extra: string) => run([rules, '--resolve', 'push.packed.test=127.0.0.1', '-f', 'json'], { NODE_EXTRA_CA_CERTS: extra });
    try {
      const trusted = await check(caFile);
      expect(trusted.stderr).toBe('');
      expect(JSON.parse(trusted.stdout)).toMatchObject({ results: [{ rule: 'tls', status: 'pass' }] });
      expect(JSON.parse((await check('')).stdout)).toMatchObject({ results: [{ rule: 'tls', error: { code: 'tls_untrusted' } }] });
      // A file that is not there: Node 20 started with it would warn at every start; --version makes no TLS context.
      const missing = path.join(dir, 'missing.pem');
      expect(await run(['--version'], { NODE_EXTRA_CA_CERTS: missing })).toMatchObject({ code: 0, stdout: `${version}\n`, stderr: '' });
      expect((await check(missing)).stderr).toBe(`Warning: Ignoring extra certs from \`${missing}\`, load failed: error:80000002:system library::No such file or directory\n`);
    } finally {
      await server.close();
    }
  });
});
