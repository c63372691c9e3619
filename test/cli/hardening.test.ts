/**
 * The CLI against a careless or hostile user and network: outputs over inputs, escape sequences from a certificate
 * or a saved report, a proxy that echoes the credentials it was sent, a secret in a bad --var, and rule files that
 * expand to millions of targets or weigh megabytes. Each is refused or cleaned before it can do harm.
 * The program runs in process (runInProcess) where no process is needed; the built CLI where colour, a served port,
 * SIGTERM or a stdout that cannot be written are the point.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { withCorruptSecondCertificate } from '../helpers/certs.js';
import { BIN, runCli, runInProcess } from '../helpers/cli.js';
import { startTcpServer, startTlsServer, track, type TestServer } from '../helpers/servers.js';
import { nastyReport, richReport } from '../report/fixture.js';

let dir: string;
const servers: TestServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-harden-'));
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

function ruleFile(name: string, port: number, extra: string[] = [], check = 'tcp'): string {
  const file = path.join(dir, name);
  writeFileSync(
    file,
    ['id: local', 'title: Local', 'rules:', '  - id: "1"', '    host: a.push.test', `    ports: [${port}]`, `    check: ${check}`, '    purpose: p', '    impact: i', '    severity: critical', ...extra, ''].join('\n'),
  );
  return file;
}

const PIN = ['--resolve', '*.push.test=127.0.0.1'];

describe('an output that is also an input is refused before anything runs', () => {
  it('a saved report rendered into itself (directly and through a link)', async () => {
    const saved = path.join(dir, 'good.json');
    const text = JSON.stringify(richReport());
    writeFileSync(saved, text);
    const link = path.join(dir, 'good-link.json');
    symlinkSync(saved, link);
    for (const output of [saved, link]) {
      const run = await runInProcess(['report', saved, '--junit', output]);
      expect(run.code).toBe(2);
      expect(run.stderr).toBe(`pushcheck: --junit ${output}: that is the saved report ${saved}, which this command reads: write the report to another file\n`);
      expect(run.stdout).toBe('');
    }
    expect(readFileSync(saved, 'utf8')).toBe(text);
  });

  it('a rule file or a --ca file named as a report, with nothing probed', async () => {
    const listener = await startTcpServer();
    servers.push(listener);
    const rules = ruleFile('mine.yaml', listener.port);
    const before = readFileSync(rules, 'utf8');
    const run = await runInProcess([rules, ...PIN, '--markdown', rules]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`pushcheck: --markdown ${rules}: that is the rule file ${rules}, which this command reads: write the report to another file\n`);
    expect(readFileSync(rules, 'utf8')).toBe(before);
    const ca = await createCertificateAuthority('pushcheck input CA');
    const caFile = path.join(dir, 'ca.pem');
    writeFileSync(caFile, ca.cert);
    const again = await runInProcess([rules, ...PIN, '--ca', caFile, '--json', caFile]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^pushcheck: --json .*ca\.pem: that is the --ca file /);
    expect(readFileSync(caFile, 'utf8')).toBe(ca.cert);
    expect(listener.accepted).toBe(0);
  });
});

describe('text from the network or a file never drives the terminal', () => {
  const RAW = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

  it('a certificate issuer with ESC[31m and an OSC title is shown escaped in the table, with or without colour', async () => {
    const evil = await createCertificateAuthority('\u001b[31mEvil\u001b]0;pwned\u0007 CA');
    const server = await startTlsServer(await evil.issue({ names: ['a.push.test'] }));
    servers.push(server);
    const rules = ruleFile('evil.yaml', server.port, [], 'tls');
    for (const colour of [[], ['--no-color']]) {
      const run = await runCli([rules, ...PIN, ...colour], { env: { FORCE_COLOR: '1' } });
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('tls_untrusted');
      expect(run.stdout).toContain('\\x1b[31mEvil\\x1b]0;pwned\\x07 CA');
      // Only pushcheck's own colour codes (ESC [ digits m), and none at all with --no-color.
      const withoutOwnColour = run.stdout.replace(/\u001b\[[0-9;]*m/g, '');
      expect(withoutOwnColour).not.toMatch(RAW);
      if (colour.length > 0) expect(run.stdout).not.toMatch(RAW);
    }
  });

  it('a crafted saved report is rendered as text, and stderr escapes what it repeats', async () => {
    const saved = path.join(dir, 'nasty.json');
    writeFileSync(saved, JSON.stringify(nastyReport()));
    const run = await runInProcess(['report', saved, '--no-color']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toContain('\\x1b[31m');
    expect(run.stdout).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    const bad = await runInProcess(['\u001b]0;title\u0007\u001b[2Jwiped']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('\\x1b]0;title\\x07\\x1b[2Jwiped');
    expect(bad.stderr).not.toMatch(RAW);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe('credentials never leave, whatever the proxy says back', () => {
  const USER = 'mdm-admin';
  const PASSWORD = 'top secret/pa55:word@x';

  it('a proxy that echoes Proxy-Authorization (base64 and decoded) in its status line: masked in every format', async () => {
    // A scripted HTTP proxy: it answers CONNECT with 403 and repeats, in its status line, what it was sent.
    const echo = await track(
      net.createServer((socket) => {
        socket.once('data', (chunk) => {
          const header = /Proxy-Authorization: Basic (\S+)/.exec(chunk.toString('latin1'))?.[1] ?? '';
          const decoded = Buffer.from(header, 'base64').toString('utf8');
          socket.end(`HTTP/1.1 403 Forbidden for Basic ${header} (${decoded}) pass=${decoded.split(':').slice(1).join(':')} ${encodeURIComponent(PASSWORD)}\r\n\r\n`);
        });
      }),
    );
    servers.push(echo);
    const rules = ruleFile('proxied.yaml', 443);
    const files = ['json', 'junit', 'markdown', 'prometheus'].map((format) => [format, path.join(dir, `proxied.${format}`)] as const);
    const proxy = `http://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${echo.port}`;
    const base64 = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    for (const format of ['table', 'json']) {
      const run = await runInProcess([rules, '--proxy', proxy, '--format', format, ...files.flatMap(([f, file]) => [`--${f}`, file])]);
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('proxy_refused');
      expect(run.stdout).toContain('***');
      const outputs = [run.stdout, run.stderr, ...files.map(([, file]) => readFileSync(file, 'utf8'))];
      for (const text of outputs) {
        for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), base64, base64.replace(/=+$/, ''), 'pa55:word']) expect(text).not.toContain(secret);
      }
    }
  });

  it('a --var URL with a password and a bad scheme is refused without echoing the password', async () => {
    const run = await runInProcess(['ibi', '--var', 'messageUrl=ftp://user:topsecret@files.example/m.ibi']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^pushcheck: --var messageUrl=ftp:\/\/\*\*\*@files\.example\/m\.ibi: /);
    expect(run.stderr).not.toContain('topsecret');
    // An unescaped @ in the password does not cut the mask short.
    const at = await runInProcess(['ibi', '--var', 'messageUrl=ftp://user:top@secret@files.example/m.ibi']);
    expect(at.stderr).not.toContain('secret');
  });
});

describe('the size of a run', () => {
  /** 12 lines: 200 numbered probe hosts × 100 ports × 100 samples each = 2,000,000 targets. */
  function hugeRuleFile(): string {
    const file = path.join(dir, 'huge.yaml');
    const probe = Array.from({ length: 200 }, (_, i) => `h${i}-#.push.test`).join(', ');
    writeFileSync(
      file,
      ['id: huge', 'title: Huge', 'rules:', '  - id: "1"', '    host: "#.push.test"', `    probe: [${probe}]`, '    ports: ["1-100"]', '    check: tcp',
        '    purpose: p', '    impact: i', '    severity: critical', '    numbered: { range: "0-999", sample: 100 }', ''].join('\n'),
    );
    return file;
  }

  it('rules validate says how many targets a file expands to; a run over --max-targets (10,000) is refused at once', async () => {
    const file = hugeRuleFile();
    const validate = await runInProcess(['rules', 'validate', file]);
    expect(validate.code).toBe(0);
    expect(validate.stdout).toBe(`${file}: ok — huge, 1 rules, 2000000 targets\n`);
    const started = performance.now();
    const run = await runInProcess([file, ...PIN, '--json', path.join(dir, 'huge.json')]);
    const durationMs = performance.now() - started;
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `pushcheck: ${file}: 2,000,000 targets, over the limit of 10,000: probe fewer hosts, ports or numbered samples (--courier-sample), or raise --max-targets\n`,
    );
    expect(durationMs).toBeLessThan(15_000);
  });

  it('--max-targets N allows N and refuses N + 1', async () => {
    const listener = await startTcpServer();
    servers.push(listener);
    const file = ruleFile('two.yaml', listener.port, ['    probe: [a.push.test, b.push.test]']);
    const refused = await runInProcess([file, ...PIN, '--max-targets', '1']);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/: 2 targets, over the limit of 1: /);
    expect(listener.accepted).toBe(0);
    const allowed = await runInProcess([file, ...PIN, '--max-targets', '2']);
    expect(allowed.stderr).toBe('');
    expect(allowed.code).toBe(0);
  });

  it('a rule file over 1 MB is refused in one line, without parsing it', async () => {
    const file = path.join(dir, 'big.yaml');
    const rule = (i: number) => `  - { id: "r${i}", host: h${i}.push.test, ports: [443], check: tls, purpose: p, impact: i, severity: critical }\n`;
    let text = 'id: big\ntitle: Big\nrules:\n';
    for (let i = 0; text.length <= 1024 * 1024; i += 1) text += rule(i);
    writeFileSync(file, text);
    const run = await runInProcess(['rules', 'validate', file]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`pushcheck: ${file}: the file is larger than 1 MB, the most a rule file may be; split it into several rule sets\n`);
  });
});

describe('smaller ones', () => {
  it('harness --host ::1 serves on IPv6 loopback; its admin API refuses bad values with a 400 naming them', async () => {
    const child = spawn(process.execPath, [BIN, 'harness', '--host', '::1', '--format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let out = '';
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
    const line = await new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        out += chunk;
        if (out.includes('\n')) resolve(out.split('\n')[0]!);
      });
      child.on('close', () => reject(new Error(`harness exited: ${err}`)));
    });
    try {
      const info = JSON.parse(line) as { endpoints: { admin: { host: string; port: number } } };
      expect(info.endpoints.admin.host).toBe('::1');
      const admin = `http://[::1]:${info.endpoints.admin.port}`;
      const call = async (method: string, where: string, body: unknown) => {
        const response = await fetch(`${admin}${where}`, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        return { status: response.status, body: (await response.json()) as { error?: string } };
      };
      // No device yet: "all" says so (it once said 'give "udid" or "all": true' to a call that gave "all").
      const none = await call('POST', '/actions', { all: true, requestType: 'DeviceInformation' });
      expect(none.status).toBe(400);
      expect(none.body.error).toMatch(/^"all": no device is enrolled yet/);
      const added = await call('POST', '/devices', { ios: 1 });
      expect(added.status).toBe(201);
      // The device enrolls over its own connection (TLS to the harness's MDM, two check-ins), on a busy machine only
      // after the calls below: "all" needs it. Under a full suite's load its first try can exceed the device's 10 s
      // request timeout, and the next comes 5 s later; a 20 s wait that then gave up showed only as a 400 ("give
      // udid or all") on the action below. So: wait as long as the harness lives, and say so if it never enrolled.
      const enrolled = async () => ((await (await fetch(`${admin}/devices`)).json()) as { devices: unknown[] }).devices.length;
      for (const deadline = Date.now() + 50_000; (await enrolled()) === 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 50));
      expect(await enrolled(), 'the simulated device enrolled with the harness').toBe(1);
      expect((await call('POST', '/actions', { all: true, ttlSeconds: -5 })).body.error).toMatch(/^ttlSeconds must be a whole number/);
      expect((await call('POST', '/actions', { all: true, requestType: 5 })).status).toBe(400);
      expect((await call('POST', '/actions', { all: true, requestType: 'DeviceInformation', ttlSeconds: 60 })).status).toBe(201);
      const notnow = await call('PUT', '/faults/notnow', { value: 1e308 });
      expect(notnow.status).toBe(400);
      expect(notnow.body.error).toMatch(/^value must be a whole number from 1 to 1000/);
      expect((await call('PUT', '/faults/notnow', { value: 2 })).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      clearTimeout(killer);
    }
    expect(err).not.toMatch(/at .*\.js:\d+/);
  }, 75_000);

  it('a stdout that cannot be written (> /dev/full) is one line and exit 2, no stack trace', async () => {
    const full = openSync('/dev/full', 'w');
    const run = spawnSync(process.execPath, [BIN, 'rules', 'list'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 30_000 });
    closeSync(full);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('pushcheck: cannot write to stdout (ENOSPC)\n');
  });

  it('a check whose report cannot be written to stdout (> /dev/full) says so and exits 2, not 0 with the report lost', async () => {
    const listener = await startTcpServer();
    servers.push(listener);
    const full = openSync('/dev/full', 'w');
    // The kernel completes the connect from its backlog while spawnSync holds this process's event loop.
    const run = spawnSync(process.execPath, [BIN, ruleFile('to-full.yaml', listener.port), ...PIN, '-f', 'json'], { stdio: ['ignore', full, 'pipe'], encoding: 'utf8', timeout: 30_000 });
    closeSync(full);
    expect(run.stderr).toBe('pushcheck: cannot write to stdout (ENOSPC)\n');
    expect(run.status).toBe(2);
  });

  it('pushcheck with no arguments prints the program help, every command listed', async () => {
    const run = await runInProcess([]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^Usage: pushcheck \[options\] \[command\]/);
    for (const command of ['check', 'rules', 'report', 'diff', 'demo', 'simulate', 'harness']) expect(run.stderr).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('a --ca file with a corrupt certificate between its PEM markers is refused before anything is probed', async () => {
    const listener = await startTcpServer();
    servers.push(listener);
    const corrupt = path.join(dir, 'corrupt.pem');
    writeFileSync(corrupt, withCorruptSecondCertificate((await createCertificateAuthority('pushcheck good CA')).cert));
    const run = await runInProcess([ruleFile('ca.yaml', listener.port), ...PIN, '--ca', corrupt]);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`pushcheck: --ca ${corrupt}: certificate 2 of 2 is not a valid certificate (corrupt between its PEM markers)\n`);
    expect(listener.accepted).toBe(0);
  });

  it('simulate --speed over real sockets faster than an hour a second is refused, not run into false "pending"', async () => {
    const run = await runInProcess(['simulate', '--ios', '2', '--speed', '100000']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^pushcheck: --speed 100000: over real sockets at most 3600 \(an hour a second\)/);
  });
});
