/**
 * What a person at a terminal sees: a spinner with a running count on stderr and colour on stdout.
 * util-linux `script` gives the CLI a real pseudo-terminal; where it is missing the test says so and skips.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { startTcpServer, startTlsServer, type TestServer } from '../helpers/servers.js';
import { inTerminal } from '../helpers/terminal.js';
import { hasTool } from '../helpers/tools.js';

const hasScript = hasTool('script', ['--version'], 'the terminal tests: util-linux `script` is not installed, so no pseudo-terminal can be made');

let dir: string;
let slow: TestServer;
/** How long `slow` keeps a connection before it closes it. */
const SLOW_CLOSE_MS = 700;
/** Far beyond SLOW_CLOSE_MS: no probe here ends by a timeout. */
const TIMEOUT = ['--timeout', '10000'];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-tty-'));
  // Accepts, never answers the ClientHello, and closes after SLOW_CLOSE_MS: each TLS probe waits long enough for the
  // spinner to draw and then fails (tls_handshake_failed, closed during the handshake) by what the server did, not
  // by a timeout, which a busy machine can turn into a local_overload warning and an exit code of 0.
  slow = await startTcpServer({
    onConnection: (socket) => {
      const timer = setTimeout(() => socket.destroy(), SLOW_CLOSE_MS);
      socket.once('close', () => clearTimeout(timer));
    },
  });
});

afterAll(async () => {
  await slow.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!hasScript)('on a terminal', () => {
  it('shows a spinner with a running count, colours the verdict, and keeps the exit code', async () => {
    const file = path.join(dir, 'slow.yaml');
    const rules = [1, 2, 3].map((n) =>
      [`  - id: "${n}"`, `    host: s${n}.push.test`, `    ports: [${slow.port}]`, '    check: tls', '    purpose: p', '    impact: i', '    severity: critical', ''].join('\n'),
    );
    writeFileSync(file, `id: slow\ntitle: Slow\nrules:\n${rules.join('')}`);
    const run = await inTerminal([file, '--resolve', '*.push.test=127.0.0.1', ...TIMEOUT, '--concurrency', '1']);
    expect(run.code).toBe(1);
    expect(run.output).toMatch(/probing: [12]\/3 targets done/);
    expect(run.output).toContain('\u001b[31m'); // red FAIL
    expect(run.output).toContain('tls_handshake_failed');
  });

  // Some CI wrappers and `docker run -t` report 0 columns at first; ora divided by it and redrew forever.
  it.each(['cols 0 rows 0', 'cols 1 rows 1', 'cols 65535 rows 65535'])('with a terminal of %s, runs and ends like any other run', async (size) => {
    const file = path.join(dir, 'sizes.yaml');
    const rules = [1, 2].map((n) =>
      [`  - id: "${n}"`, `    host: s${n}.push.test`, `    ports: [${slow.port}]`, '    check: tls', '    purpose: p', '    impact: i', '    severity: critical', ''].join('\n'),
    );
    writeFileSync(file, `id: sizes\ntitle: Sizes\nrules:\n${rules.join('')}`);
    // Two probes of SLOW_CLOSE_MS one after the other: the spinner draws for over a second.
    const run = await inTerminal([file, '--resolve', '*.push.test=127.0.0.1', ...TIMEOUT, '--concurrency', '1'], `${size}`, 15_000);
    expect(run.code).toBe(1);
    expect(run.durationMs).toBeLessThan(14_000);
    expect(run.output).toMatch(/FAIL: 2 critical targets failed/);
    // A spinner redraws a line about 12 times a second; megabytes of cursor codes mean it lost count of its lines.
    expect(run.output.length).toBeLessThan(50_000);
  });
  it('counts down on the spinner line while --hold keeps connections idle', async () => {
    const authority = await createCertificateAuthority('pushcheck tty hold CA');
    const server = await startTlsServer({ ...(await authority.issue({ names: ['held.push.test'] })), host: '127.0.0.1' });
    try {
      const caFile = path.join(dir, 'hold-ca.pem');
      writeFileSync(caFile, authority.cert);
      const file = path.join(dir, 'hold.yaml');
      const held = ['  - id: held', '    host: held.push.test', `    ports: [${server.port}]`, '    check: tls', '    hold: true'];
      writeFileSync(file, `id: hold\ntitle: Hold\nrules:\n${[...held, '    purpose: p', '    impact: i', '    severity: critical', ''].join('\n')}`);
      const run = await inTerminal([file, '--resolve', 'held.push.test=127.0.0.1', '--ca', caFile, '--hold', '3s']);
      expect(run.code).toBe(0);
      expect(run.output).toMatch(/probing: 1\/1 targets done; holding 1 connection idle, 0:0[0-3] left/);
      expect(run.output).toContain('--hold: the far end answered a TLS close_notify');
    } finally {
      await server.close();
    }
  });

  // Started as `node bin/pushcheck.js`, Node reads the file itself: at start on Node 20, at the first TLS context on
  // 22 and later, where it warns from C++, beneath the stream ora redraws its line around. Run as a program,
  // pushcheck reads it (src/extra-ca-certs.ts).
  it.each([false, true])('warns about a NODE_EXTRA_CA_CERTS it cannot read on a line of its own, not after the spinner (as a program: %s)', async (asProgram) => {
    const file = path.join(dir, 'warned.yaml');
    const rule = ['  - id: "1"', '    host: w.push.test', `    ports: [${slow.port}]`, '    check: tls', '    purpose: p', '    impact: i', '    severity: critical', ''];
    writeFileSync(file, `id: warned\ntitle: Warned\nrules:\n${rule.join('\n')}`);
    const missing = path.join(dir, 'missing-ca.pem');
    const run = await inTerminal([file, '--resolve', '*.push.test=127.0.0.1', ...TIMEOUT], undefined, 15_000, { extraEnv: { NODE_EXTRA_CA_CERTS: missing, NODE_OPTIONS: '', NODE_USE_SYSTEM_CA: '' }, asProgram });
    expect(run.code).toBe(1);
    const warning = `Warning: Ignoring extra certs from \`${missing}\``;
    expect(run.output.split(warning)).toHaveLength(2);
    // At the start of the output, of a line, or of a line the spinner cleared (cursor to column 1, erase to its end).
    expect(run.output).toMatch(new RegExp(`(?:^|\\n|\\u001b\\[1G\\u001b\\[0K)${warning.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    expect(run.output).toMatch(/FAIL: 1 critical target failed/);
  });
});
