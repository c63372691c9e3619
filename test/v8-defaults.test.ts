/**
 * underDefaultV8Flags (src/v8-defaults.ts): on Node 20 a check changes V8 flags (src/cli/v8-flags.ts), and V8 refuses
 * a code cache made under other flags, as it refused Node's own for node:tls at a run's first TLS context. Shown
 * with a script's cache made under V8's defaults: refused after the check's flags, accepted under
 * underDefaultV8Flags, and refused again after it (the check's flags are back). Each in a Node of its own: V8 keeps
 * what it compiled, and a second compile of the same script would not look at the cache. Later Nodes change no flag.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/cli.js';

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

describe('node:tls in a check', () => {
  // A preload that notes V8's interrupt budget (the first of the check's flags) as src/ sets it, and says under which
  // it was when node:tls was first asked for: whatever part of a TLS probe asks first.
  const witness = path.join(dir, 'tls-witness.cjs');
  writeFileSync(
    witness,
    `const v8 = process.getBuiltinModule('node:v8');
    const setFlags = v8.setFlagsFromString;
    let flags = 'defaults';
    v8.setFlagsFromString = (text) => {
      const budget = /^--interrupt-budget=(\\d+)$/.exec(text);
      if (budget) flags = budget[1] === '67584' ? 'defaults' : 'the check\\'s';
      return setFlags.call(v8, text);
    };
    const getBuiltin = process.getBuiltinModule;
    let seen = false;
    process.getBuiltinModule = (name) => {
      if (!seen && name === 'node:tls') {
        seen = true;
        const loadedUnder = flags;
        process.on('exit', () => process.stderr.write('node:tls first loaded under ' + loadedUnder + '\\n'));
      }
      return getBuiltin.call(process, name);
    };`,
  );

  it.each([false, true])("loads under V8's defaults, for a rule with a TLS requirement too (%s)", async (requirement) => {
    // A server that hangs up at once: the handshake starts (and fails), with the context made before it.
    const server = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const file = path.join(dir, `tls-${requirement}.yaml`);
      const rule = ['  - id: "1"', '    host: w.push.test', `    ports: [${(server.address() as net.AddressInfo).port}]`, '    check: tls', '    purpose: p', '    impact: i', '    severity: critical'];
      writeFileSync(file, `id: witnessed\ntitle: Witnessed\nrules:\n${[...rule, ...(requirement ? ['    tls: { minVersion: TLSv1.2, cipher: AES-256 }'] : [])].join('\n')}\n`);
      const run = await runCli([file, '--resolve', '*.push.test=127.0.0.1', '-f', 'json'], { nodeArgs: ['-r', witness], env: { NODE_OPTIONS: '' } });
      expect(JSON.parse(run.stdout).results[0].error.code).toBe('tls_handshake_failed');
      expect(run.stderr).toBe('node:tls first loaded under defaults\n');
    } finally {
      server.close();
    }
  });
});
