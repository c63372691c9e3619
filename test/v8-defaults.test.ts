/**
 * underDefaultV8Flags (src/v8-defaults.ts): on Node 20 a check changes V8 flags (src/cli/v8-flags.ts), and V8 refuses
 * a code cache made under other flags, as it refused Node's own for node:tls at a run's first TLS context. Shown
 * with a script's cache made under V8's defaults: refused after the check's flags, accepted under
 * underDefaultV8Flags, and refused again after it (the check's flags are back). Each in a Node of its own: V8 keeps
 * what it compiled, and a second compile of the same script would not look at the cache. Later Nodes change no flag.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';
import type { Report } from '../src/types.js';
import { createCertificateAuthority } from '../src/harness/certs.js';
import { closedPort, startTlsServer } from './helpers/servers.js';
import { HANDOVER } from '../src/extra-ca-certs.js';

const dist = (file: string): string => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-v8-defaults-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `body` in a fresh Node after v8FlagsForCheck, with `compile()` and `underDefaultV8Flags` at hand; its stdout. */
function inCheck(body: string): string {
  const script = `
    const vm = await import('node:vm');
    const fs = await import('node:fs');
    const { v8FlagsForCheck } = await import(${JSON.stringify(dist('cli/v8-flags.js'))});
    const { underDefaultV8Flags, tlsModule } = await import(${JSON.stringify(dist('v8-defaults.js'))});
    const source = 'function twice(x) { return x * 2 }; twice(21)';
    const cache = ${JSON.stringify(path.join(dir, 'a.cache'))};
    const compile = () => new vm.Script(source, { filename: 'a.js', cachedData: fs.readFileSync(cache) }).cachedDataRejected ? 'refused' : 'used';
    ${body}`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(child.stderr).toBe('');
  return child.stdout;
}

describe('underDefaultV8Flags', () => {
  const node20 = process.versions.v8.startsWith('11.');

  it(`loads under the flags a code cache was made under, and sets the check's again afterwards (this is ${process.version})`, () => {
    expect(inCheck(`fs.writeFileSync(cache, new vm.Script(source, { filename: 'a.js' }).createCachedData()); process.stdout.write(compile());`)).toBe('used');
    const flagged = node20 ? 'refused' : 'used';
    expect(inCheck(`v8FlagsForCheck(['rules.yaml']); process.stdout.write(compile());`)).toBe(flagged);
    expect(inCheck(`v8FlagsForCheck(['rules.yaml']); process.stdout.write(underDefaultV8Flags(compile));`)).toBe('used');
    expect(inCheck(`v8FlagsForCheck(['rules.yaml']); underDefaultV8Flags(() => tlsModule()); process.stdout.write(compile());`)).toBe(flagged);
  });
});

describe('node:tls and node:crypto in a check', () => {
  // A preload that notes V8's interrupt budget (the first of the check's flags) as src/ sets it, and says under which
  // it was when node:tls and node:crypto were first asked for, by process.getBuiltinModule or by a require (a bundle's,
  // a library's: basic-ftp asks for 'tls'). node:tls loads node:crypto: that counts as crypto's first load.
  const witness = path.join(dir, 'tls-witness.cjs');
  writeFileSync(
    witness,
    `const v8 = process.getBuiltinModule('node:v8');
    const Module = process.getBuiltinModule('node:module');
    const setFlags = v8.setFlagsFromString;
    let flags = 'defaults';
    v8.setFlagsFromString = (text) => {
      const budget = /^--interrupt-budget=(\\d+)$/.exec(text);
      if (budget) flags = budget[1] === '67584' ? 'defaults' : 'the check\\'s';
      return setFlags.call(v8, text);
    };
    const firstUnder = new Map();
    const note = (name) => {
      const bare = String(name).replace(/^node:/, '');
      if (bare !== 'tls' && bare !== 'crypto') return;
      for (const loaded of bare === 'tls' ? ['tls', 'crypto'] : ['crypto']) if (!firstUnder.has(loaded)) firstUnder.set(loaded, flags);
    };
    process.on('exit', () => {
      for (const [name, under] of [...firstUnder].sort()) process.stderr.write('node:' + name + ' first loaded under ' + under + '\\n');
    });
    const getBuiltin = process.getBuiltinModule;
    process.getBuiltinModule = (name) => {
      note(name);
      return getBuiltin.call(process, name);
    };
    const moduleRequire = Module.prototype.require;
    Module.prototype.require = function (name) {
      note(name);
      return moduleRequire.call(this, name);
    };`,
  );

  /** The check run on `rules` (the YAML of its rules) and `args`, with the witness: its report and what the witness said. */
  async function witnessed(name: string, rules: string[], args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<{ report: Report; seen: string }> {
    const file = path.join(dir, `${name}.yaml`);
    writeFileSync(file, `id: witnessed\ntitle: Witnessed\n${rules.join('\n')}\n`);
    const run = await runCli([file, '--resolve', '*.push.test=127.0.0.1', '-f', 'json', ...args], { nodeArgs: ['-r', witness], env: { NODE_OPTIONS: '', ...env } });
    expect(run.code, run.stderr).toBeLessThanOrEqual(1);
    return { report: JSON.parse(run.stdout) as Report, seen: run.stderr };
  }

  const BOTH_UNDER_DEFAULTS = 'node:crypto first loaded under defaults\nnode:tls first loaded under defaults\n';
  const rule = (port: number, check: string): string[] =>
    ['rules:', '  - id: "1"', '    host: w.push.test', `    ports: [${port}]`, `    check: ${check}`, '    purpose: p', '    impact: i', '    severity: critical'];

  it.each([false, true])("node:tls loads under V8's defaults, for a rule with a TLS requirement too (%s)", async (requirement) => {
    // A server that hangs up at once: the handshake starts (and fails), with the context made before it.
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as net.AddressInfo).port;
      const { report, seen } = await witnessed(`tls-${requirement}`, [...rule(port, 'tls'), ...(requirement ? ['    tls: { minVersion: TLSv1.2, cipher: AES-256 }'] : [])]);
      expect(report.results[0]!.error!.code).toBe('tls_handshake_failed');
      expect(seen).toBe(BOTH_UNDER_DEFAULTS);
    } finally {
      server.close();
    }
  });

  it("a TLS check trusting a handed-over NODE_EXTRA_CA_CERTS (read at the first context, the name then checked) loads both under V8's defaults", async () => {
    const ca = await createCertificateAuthority('pushcheck v8-defaults extra CA');
    const extraFile = path.join(dir, 'extra.pem');
    writeFileSync(extraFile, ca.cert);
    const server = await startTlsServer({ ...(await ca.issue({ names: ['w.push.test'] })), host: '127.0.0.1' });
    try {
      // As bin/pushcheck.js hands the variable over (src/extra-ca-certs.ts): to the process it starts, here this one's child.
      const { report, seen } = await witnessed('extra-ca', rule(server.port, 'tls'), [], { [HANDOVER]: `${process.pid}:${extraFile}`, NODE_EXTRA_CA_CERTS: '' });
      expect(report.results[0]).toMatchObject({ status: 'pass', tls: { trusted: true } });
      expect(seen).toBe(BOTH_UNDER_DEFAULTS);
    } finally {
      await server.close();
    }
  });

  it('a TCP check loads neither', async () => {
    const { report, seen } = await witnessed('tcp', rule(await closedPort(), 'tcp'));
    expect(report.results[0]!.error!.code).toBe('tcp_refused');
    expect(seen).toBe('');
  });

  it("--ca loads node:crypto (to read its certificates) under V8's defaults", async () => {
    const ca = await createCertificateAuthority('pushcheck v8-defaults CA');
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, ca.cert);
    const { report, seen } = await witnessed('ca', rule(await closedPort(), 'tcp'), ['--ca', caFile]);
    expect(report.results[0]!.error!.code).toBe('tcp_refused');
    expect(seen).toBe('node:crypto first loaded under defaults\n');
  });

  it("--json FILE loads node:crypto (its temporary file's random name) under V8's defaults", async () => {
    const saved = path.join(dir, 'saved.json');
    const { report, seen } = await witnessed('json-file', rule(await closedPort(), 'tcp'), ['--json', saved]);
    expect(report.results[0]!.error!.code).toBe('tcp_refused');
    expect((JSON.parse(readFileSync(saved, 'utf8')) as Report).results[0]!.error!.code).toBe('tcp_refused');
    expect(seen).toBe('node:crypto first loaded under defaults\n');
  });

  it("a write to a plain ftp:// url loads node:tls (basic-ftp asks for it when loaded) under V8's defaults", async () => {
    const port = await closedPort();
    const write = ['rules:', '  - id: w', `    url: "ftp://127.0.0.1:${port}/messages.ibi"`, '    check: write', '    purpose: p', '    impact: i', '    severity: critical'];
    const { report, seen } = await witnessed('ftp', write);
    expect(report.results[0]!.error!.code).toBe('tcp_refused');
    expect(seen).toBe(BOTH_UNDER_DEFAULTS);
  });

  it("a rule file's credentials (node:crypto to read them, node:tls for --live) load under V8's defaults", async () => {
    const ca = await createCertificateAuthority('pushcheck v8-defaults push CA');
    const push = await ca.issue({ names: ['push.test'] });
    writeFileSync(path.join(dir, 'push.pem'), `${push.cert}${push.key}`);
    const { report, seen } = await witnessed('credentials', [...rule(await closedPort(), 'tcp'), 'credentials:', '  - push.pem']);
    expect(report.results.map((r) => r.check)).toEqual(['tcp', 'cert']);
    expect(seen).toBe(BOTH_UNDER_DEFAULTS);
  });
});
