/**
 * `pushcheck harness --mdm-url`: a simulated fleet driving an MDM server of one's own. The server under test is
 * written here, small but real: HTTPS on loopback with a certificate from a CA of its own (given to the harness with
 * --mdm-ca), Apple's plist protocol on a CheckInURL and a ServerURL, and pushes to the mock APNs over HTTP/2 with the
 * MDM push certificate that harness.json names. It answers 503 until it has read harness.json, as a server that is
 * not up yet (and 503 to each device's first request), so the devices' enrollment retry is part of the run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { build, parse, type PlistValue } from 'plist';
import { createCertificateAuthority } from '../../src/harness/certs.js';
import { FaultBoard, parseFault, ScaledClock, startHarness } from '../../src/harness/index.js';
import { writeStateDir } from '../../src/harness/state-dir.js';
import { register } from '../../src/cli/harness.js';
import { withCorruptSecondCertificate } from '../helpers/certs.js';
import { BIN, runInProcess } from '../helpers/cli.js';
import { startHttpServer } from '../helpers/servers.js';
import { waitFor } from './helpers.js';

type Dict = { [key: string]: PlistValue };

interface HarnessJson {
  ca: string;
  apns: { url: string };
  mdmPush: { certificate: string; key: string; topic: string };
  admin: { url: string };
  devices: Array<{ udid: string; platform: string; token: string }>;
}

/** What the server under test saw and did. */
interface Seen {
  checkIns: Array<{ contentType: string | undefined; message: Dict }>;
  connects: Array<{ contentType: string | undefined; message: Dict }>;
  pushes: Array<{ udid: string; status: number; body: string }>;
  notReady: number;
}

const PROFILE_ID = 'com.example.mdm-under-test.wifi';
const profile = Buffer.from(
  build({ PayloadIdentifier: PROFILE_ID, PayloadUUID: '0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0F9', PayloadDisplayName: 'Office Wi-Fi', PayloadType: 'Configuration', PayloadVersion: 1, PayloadContent: [] }),
);
/** The commands the server under test queues for each device, in order: the fourth holds no profile, the last lacks its Payload. */
const COMMANDS: Dict[] = [
  { RequestType: 'InstallProfile', Payload: profile },
  { RequestType: 'ProfileList' },
  { RequestType: 'DeviceInformation', Queries: ['UDID', 'OSVersion', 'SerialNumber', 'NoSuchQuery'] },
  { RequestType: 'InstallProfile', Payload: Buffer.from('not a profile') },
  { RequestType: 'InstallProfile' },
];

/** A minimal MDM server: enroll on TokenUpdate, queue COMMANDS, push once, hand them out one by one. */
async function startMdmServerUnderTest(stateFile: string, tls: { cert: string; key: string }) {
  const seen: Seen = { checkIns: [], connects: [], pushes: [], notReady: 0 };
  const devices = new Map<string, { token: string; pushMagic: string; queue: Array<{ uuid: string; command: Dict }> }>();
  let state: HarnessJson | undefined;
  const refused = new Set<string>();
  const sent = new Map<string, { uuid: string; command: Dict }>();
  let apns: http2.ClientHttp2Session | undefined;

  const push = (udid: string): void => {
    const device = devices.get(udid)!;
    apns ??= http2.connect(state!.apns.url, { ca: readFileSync(state!.ca), cert: readFileSync(state!.mdmPush.certificate), key: readFileSync(state!.mdmPush.key) });
    const stream = apns.request({ ':method': 'POST', ':path': `/3/device/${device.token}`, 'apns-topic': state!.mdmPush.topic, 'apns-push-type': 'mdm' });
    let status = 0;
    let body = '';
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.setEncoding('utf8').on('data', (c: string) => (body += c));
    stream.on('close', () => seen.pushes.push({ udid, status, body }));
    stream.end(JSON.stringify({ mdm: device.pushMagic }));
  };

  const server = await startHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const message = parse(Buffer.concat(chunks).toString('utf8')) as Dict;
      const udid = message.UDID as string;
      // Not up until harness.json is read, and "busy" at each device's first request: the devices must enroll again.
      if (!state && existsSync(stateFile)) state = JSON.parse(readFileSync(stateFile, 'utf8')) as HarnessJson;
      if (!state || !refused.has(udid)) {
        refused.add(udid);
        seen.notReady += 1;
        res.writeHead(503).end();
        return;
      }
      if (req.url === '/checkin') {
        seen.checkIns.push({ contentType: req.headers['content-type'], message });
        if (message.MessageType === 'TokenUpdate') {
          devices.set(udid, { token: Buffer.from(message.Token as Uint8Array).toString('hex'), pushMagic: message.PushMagic as string, queue: COMMANDS.map((command, i) => ({ uuid: `${udid}-${i + 1}`, command })) });
          push(udid);
        }
        res.writeHead(200).end();
        return;
      }
      seen.connects.push({ contentType: req.headers['content-type'], message });
      const queue = devices.get(udid)?.queue;
      // NotNow: the command waits for the device's next session; this one ends.
      if (message.Status === 'NotNow') {
        queue?.unshift(sent.get(message.CommandUUID as string)!);
        res.writeHead(200).end();
        return;
      }
      const next = queue?.shift();
      if (!next) {
        res.writeHead(200).end();
        return;
      }
      sent.set(next.uuid, next);
      const command = build({ CommandUUID: next.uuid, Command: next.command });
      res.writeHead(200, { 'content-type': 'application/xml' }).end(command);
    });
  }, { tls });
  return {
    seen,
    url: `https://${server.host}:${server.port}`,
    async close() {
      apns?.destroy();
      await server.close();
    },
  };
}

describe('pushcheck harness --mdm-url', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pushcheck-own-mdm-'));
  const stateDir = join(dir, 'state');
  let mdm: Awaited<ReturnType<typeof startMdmServerUnderTest>>;
  let child: ChildProcess | undefined;
  let stderr = '';

  beforeAll(async () => {
    const ca = await createCertificateAuthority('MDM under test CA');
    writeFileSync(join(dir, 'mdm-ca.pem'), ca.cert);
    mdm = await startMdmServerUnderTest(join(stateDir, 'harness.json'), await ca.issue({ names: ['127.0.0.1'] }));
  });
  afterAll(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await mdm?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('devices check in there, wake on its pushes through the mock APNs, run its commands and answer as devices do', async () => {
    child = spawn(
      process.execPath,
      [BIN, 'harness', '--state-dir', stateDir, '--ios', '2', '--format', 'json', '--mdm-url', `${mdm.url}/connect`, '--mdm-checkin-url', `${mdm.url}/checkin`, '--mdm-ca', join(dir, 'mdm-ca.pem')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    await waitFor(() => existsSync(join(stateDir, 'harness.json')), 20_000, 'harness.json');
    const state = JSON.parse(readFileSync(join(stateDir, 'harness.json'), 'utf8')) as HarnessJson;
    const udids = state.devices.map((d) => d.udid);
    expect(udids).toHaveLength(2);

    // An answer per command and device, then the empty 200 after the last one.
    const answers = (udid: string) => mdm.seen.connects.filter((c) => c.message.UDID === udid && c.message.Status !== 'Idle');
    await waitFor(() => udids.every((u) => answers(u).length === COMMANDS.length), 30_000, 'every command answered').catch((err: Error) => {
      throw new Error(`${err.message}; the server saw ${JSON.stringify(mdm.seen)}; harness stderr: ${stderr}`);
    });
    expect(stderr).toBe('');

    // Check-in: Authenticate, then TokenUpdate with the binary Token the harness gave the device, its PushMagic and the MDM topic.
    expect(mdm.seen.notReady).toBeGreaterThanOrEqual(2);
    expect(new Set(mdm.seen.checkIns.map((c) => c.contentType))).toEqual(new Set(['application/x-apple-aspen-mdm-checkin']));
    for (const device of state.devices) {
      const mine = mdm.seen.checkIns.filter((c) => c.message.UDID === device.udid).map((c) => c.message);
      expect(mine.map((m) => m.MessageType)).toEqual(['Authenticate', 'TokenUpdate']);
      const update = mine[1]!;
      expect(update.Token).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(update.Token as Uint8Array).toString('hex')).toBe(device.token);
      expect(update.Topic).toBe(state.mdmPush.topic);
      expect(update.PushMagic).toMatch(/^[0-9A-F-]{36}$/i);
    }

    // The server's pushes went through the mock APNs and were accepted; the mock APNs recorded them.
    expect(mdm.seen.pushes.map((p) => p.status)).toEqual([200, 200]);
    const recorded = (await (await fetch(`${state.admin.url}/apns/notifications?topic=${state.mdmPush.topic}`)).json()) as { notifications: Array<{ token: string; answer: { status: number } }> };
    expect(recorded.notifications.map((n) => n.token).sort()).toEqual(state.devices.map((d) => d.token).sort());

    // The command exchange: Idle, then one answer per command, each shaped as a device's.
    expect(new Set(mdm.seen.connects.map((c) => c.contentType))).toEqual(new Set(['application/x-apple-aspen-mdm']));
    for (const udid of udids) {
      expect(mdm.seen.connects.find((c) => c.message.UDID === udid)!.message.Status).toBe('Idle');
      const [install, list, info, broken, malformed] = answers(udid).map((c) => c.message);
      expect(install).toMatchObject({ Status: 'Acknowledged', CommandUUID: `${udid}-1` });
      expect(list!.Status).toBe('Acknowledged');
      expect((list!.ProfileList as Dict[]).map((p) => p.PayloadIdentifier)).toContain(PROFILE_ID);
      expect(info!.Status).toBe('Acknowledged');
      const responses = info!.QueryResponses as Dict;
      expect(responses.UDID).toBe(udid);
      expect(Object.keys(responses).sort()).toEqual(['OSVersion', 'SerialNumber', 'UDID']);
      expect(broken).toMatchObject({ Status: 'Error', CommandUUID: `${udid}-4` });
      expect((broken!.ErrorChain as Dict[])[0]).toMatchObject({ ErrorDomain: 'MCProfileErrorDomain', LocalizedDescription: expect.any(String) });
      expect(malformed).toMatchObject({ Status: 'CommandFormatError', CommandUUID: `${udid}-5` });
    }

    // The harness's own MDM server saw none of it.
    const own = (await (await fetch(`${state.admin.url}/devices`)).json()) as { devices: unknown[] };
    expect(own.devices).toEqual([]);

    const code = await new Promise<number | null>((resolve) => {
      child!.on('close', (c) => resolve(c));
      child!.kill('SIGTERM');
    });
    expect(code).toBe(0);
  }, 60_000);
});

describe('startHarness({ ownMdm }) from code, with the notnow fault', () => {
  it('a device answers NotNow once per command and runs it at its next session; the server sees each well-formed command twice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushcheck-own-mdm-lib-'));
    const ca = await createCertificateAuthority('MDM under test CA');
    const mdm = await startMdmServerUnderTest(join(dir, 'harness.json'), await ca.issue({ names: ['127.0.0.1'] }));
    const clock = new ScaledClock(1);
    const h = await startHarness({
      clock,
      faults: new FaultBoard([parseFault('notnow=1')], clock.now()),
      timing: { notNowRetryMs: 200, enrollRetryMs: 200 },
      ownMdm: { serverUrl: `${mdm.url}/connect`, checkInUrl: `${mdm.url}/checkin`, ca: [ca.cert] },
    });
    try {
      writeStateDir(dir, h);
      const [device] = h.addDevices({ ios: 1 });
      const udid = device!.profile.udid;
      const answers = () => mdm.seen.connects.filter((c) => c.message.UDID === udid && c.message.Status !== 'Idle').map((c) => `${String(c.message.CommandUUID)} ${String(c.message.Status)}`);
      // A malformed command is refused before anything else: CommandFormatError, no NotNow first.
      const expected = [
        ...['Acknowledged', 'Acknowledged', 'Acknowledged', 'Error'].flatMap((status, i) => [`${udid}-${i + 1} NotNow`, `${udid}-${i + 1} ${status}`]),
        `${udid}-5 CommandFormatError`,
      ];
      await waitFor(() => answers().length >= expected.length, 20_000, 'every answer').catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(answers())}`);
      });
      expect(answers()).toEqual(expected);
      // After each NotNow the device came back on its own, with Idle: one session per command.
      expect(mdm.seen.connects.filter((c) => c.message.UDID === udid && c.message.Status === 'Idle').length).toBeGreaterThanOrEqual(COMMANDS.length);
    } finally {
      await h.close();
      clock.clearAll();
      await mdm.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});

describe('the devices trust an MDM server of your own as --mdm-ca says', () => {
  it('refuse one whose certificate comes from a CA they were not given (no request, they try again), and talk to it given that CA', async () => {
    const given = await createCertificateAuthority('Given MDM CA');
    const serversCa = await createCertificateAuthority('Server MDM CA');
    // A TLS server of the test's own, to count what arrives: connections, and bytes after a handshake (a request).
    // It hangs up once a request has come: a request left waiting for an answer held the harness's close 10 s.
    let connections = 0;
    let bytes = 0;
    const server = tls.createServer(await serversCa.issue({ names: ['127.0.0.1'] }), (socket) => {
      socket.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
        socket.destroy();
      });
      socket.on('error', () => undefined);
    });
    server.on('connection', () => (connections += 1));
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const devicesTrusting = async (ca: string, until: () => boolean, what: string): Promise<void> => {
      const clock = new ScaledClock(1);
      const h = await startHarness({
        clock,
        faults: new FaultBoard([], clock.now()),
        timing: { enrollRetryMs: 200 },
        ownMdm: { serverUrl: `${url}/connect`, checkInUrl: `${url}/checkin`, ca: [ca] },
      });
      try {
        h.addDevices({ ios: 1 });
        await waitFor(until, 20_000, what);
      } finally {
        await h.close();
        clock.clearAll();
      }
    };
    try {
      await devicesTrusting(given.cert, () => connections >= 2, 'a second enrollment attempt');
      expect(bytes).toBe(0);
      await devicesTrusting(serversCa.cert, () => bytes > 0, 'a request');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }, 60_000);
});

describe('closing the harness', () => {
  it('does not wait for an own MDM server that never answers, and what was answered before stands', async () => {
    const ca = await createCertificateAuthority('Silent MDM CA');
    // Reads the request, never answers: before, the harness's close waited out the request's 10 s timeout.
    let bytes = 0;
    const server = tls.createServer(await ca.issue({ names: ['127.0.0.1'] }), (socket) => {
      socket.on('data', (chunk: Buffer) => (bytes += chunk.length));
      socket.on('error', () => undefined);
    });
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const clock = new ScaledClock(1);
    const h = await startHarness({ clock, faults: new FaultBoard([], clock.now()), ownMdm: { serverUrl: `${url}/connect`, checkInUrl: `${url}/checkin`, ca: [ca.cert] } });
    try {
      // The Android device enrolls with the harness's own MDM server (answered); the iOS one waits on the silent one.
      const [android] = h.addDevices({ android: 1 });
      h.addDevices({ ios: 1 });
      await waitFor(() => bytes > 0 && h.mdm.devices.has(android!.profile.udid), 20_000, 'an enrollment answered and a request in flight');
      const started = performance.now();
      await h.close();
      expect(performance.now() - started).toBeLessThan(3000);
      expect(h.mdm.devices.has(android!.profile.udid)).toBe(true);
    } finally {
      await h.close();
      clock.clearAll();
      server.close();
    }
  }, 60_000);
});

describe('--mdm-url, --mdm-checkin-url, --mdm-ca: bad values are one-line usage errors', () => {
  const run = async (args: string[]): Promise<string> => {
    const program = new Command().exitOverride();
    register(program);
    const error = await program.parseAsync(['node', 'pushcheck', 'harness', ...args]).then(
      () => undefined,
      (err: Error) => err,
    );
    expect(error?.name).toBe('UsageError');
    return error!.message;
  };

  it.each([
    [['--mdm-url', 'mdm.example.com/connect'], '--mdm-url mdm.example.com/connect: not a URL (expected https://host[:port]/path)'],
    [['--mdm-url', 'ftp://mdm.example.com/connect'], '--mdm-url ftp://mdm.example.com/connect: scheme ftp is not http or https'],
    [['--mdm-url', 'https://admin:s3cret@mdm.example.com/connect'], '--mdm-url https://***@mdm.example.com/connect: user name or password in the URL (devices do not send credentials)'],
    [['--mdm-url', 'https://mdm.example.com/connect', '--mdm-checkin-url', '/checkin'], '--mdm-checkin-url /checkin: not a URL (expected https://host[:port]/path)'],
    [['--mdm-checkin-url', 'https://mdm.example.com/checkin'], '--mdm-checkin-url needs --mdm-url'],
    [['--mdm-url', 'https://mdm.example.com/connect', '--mdm-ca', '/nonexistent/ca.pem'], '--mdm-ca /nonexistent/ca.pem: cannot read it (ENOENT)'],
    [['--mdm-url', 'https://mdm.example.com/connect', '--mdm-ca', BIN], `--mdm-ca ${BIN}: no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)`],
  ])('%j', async (args, message) => {
    expect(await run(args)).toBe(message);
  });

  it('a CA bundle whose second certificate is corrupt is refused, as --ca refuses it: one line, exit 2, nothing started', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pushcheck-mdm-ca-'));
    try {
      const corrupt = join(dir, 'bundle.pem');
      writeFileSync(corrupt, withCorruptSecondCertificate((await createCertificateAuthority('Own MDM CA')).cert));
      const out = await runInProcess(['harness', '--mdm-url', 'https://mdm.example.com/connect', '--mdm-ca', corrupt]);
      expect(out.code).toBe(2);
      expect(out.stdout).toBe('');
      expect(out.stderr).toBe(`pushcheck: --mdm-ca ${corrupt}: certificate 2 of 2 is not a valid certificate (corrupt between its PEM markers)\n`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
