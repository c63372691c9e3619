/**
 * What --ca means: Node's default roots stay trusted, the given CAs are added, for that context only, and a chain
 * signed by neither is refused. A bundled root's key is not ours, so its presence is shown the way OpenSSL looks an
 * issuer up: a certificate that names a bundled root as its issuer, signed by another key, fails on the signature
 * (the root was found) where one naming an unknown issuer fails for want of an issuer. Run as a program,
 * bin/pushcheck.js starts Node without NODE_EXTRA_CA_CERTS and pushcheck adds the file itself (src/extra-ca-certs.ts):
 * the last part holds its verdicts, warnings and --ca against Node's own reading of the same files.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { webcrypto, X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
// First: it sets up what @peculiar/x509 needs (reflect-metadata, the crypto provider).
import { createCertificateAuthority, type CertificateAuthority, type CertificatePem } from '../../src/harness/certs.js';
import * as x509 from '@peculiar/x509';
import { prepareRunTrustingContext, runTrustingContext, trustingContext } from '../../src/trust.js';
import { HANDOVER } from '../../src/extra-ca-certs.js';
import { BIN, runCli } from '../helpers/cli.js';
import { REJECT_SERVER_AUTH, withBytesAfterCertificate, withCorruptSecondCertificate } from '../helpers/certs.js';
import { writeRuleFile } from '../helpers/rule-file.js';
import { ipv6Available, startTlsServer, type TestServer } from '../helpers/servers.js';

const run = promisify(execFile);
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

let ours: CertificateAuthority;
let other: CertificateAuthority;
let stranger: CertificateAuthority;
const servers: TestServer[] = [];
const dir = mkdtempSync(path.join(tmpdir(), 'pushcheck-trust-'));

async function server(pair: CertificatePem & { host?: string }): Promise<number> {
  const started = await startTlsServer(pair);
  servers.push(started);
  return started.port;
}

/** OpenSSL's verdict on the chain of the server at `port` for push.test: 'trusted' or its error code. */
function verdict(port: number, secureContext?: tls.SecureContext): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'push.test',
      ...(secureContext && { secureContext }),
      rejectUnauthorized: false,
      checkServerIdentity: () => undefined,
    });
    socket.once('secureConnect', () => {
      resolve(socket.authorized ? 'trusted' : String(socket.authorizationError));
      socket.destroy();
    });
    socket.once('error', reject);
  });
}

/** A server certificate for push.test that names `issuer` but is signed by a key of its own. */
async function claimingIssuer(issuer: x509.Name | string): Promise<CertificatePem> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a',
    subject: 'CN=push.test',
    issuer,
    notBefore: new Date(Date.now() - DAY_MS),
    notAfter: new Date(Date.now() + 30 * DAY_MS),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'push.test' }])],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as webcrypto.CryptoKey);
  const b64 = Buffer.from(der).toString('base64').replace(/.{1,64}/g, '$&\n');
  return { cert: `${cert.toString('pem')}\n`, key: `-----BEGIN PRIVATE KEY-----\n${b64}-----END PRIVATE KEY-----\n` };
}

beforeAll(async () => {
  ours = await createCertificateAuthority('Pushcheck Trust CA');
  other = await createCertificateAuthority('Second Trust CA');
  stranger = await createCertificateAuthority('Stranger CA');
});

afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('trustingContext', () => {
  it("keeps Node's bundled roots trusted beside the given CAs", async () => {
    // An EC root: OpenSSL takes a candidate issuer only if its key type fits the signature (ECDSA here).
    const root = tls.rootCertificates.find((pem) => new X509Certificate(pem).publicKey.asymmetricKeyType === 'ec');
    expect(root, 'Node bundles an EC root').toBeDefined();
    const claimsRoot = await server(await claimingIssuer(new x509.X509Certificate(root as string).subjectName));
    const claimsNobody = await server(await claimingIssuer('CN=Nobody Root, O=Nowhere'));
    for (const context of [undefined, trustingContext([]), trustingContext([ours.cert])]) {
      expect(await verdict(claimsRoot, context)).toBe('CERT_SIGNATURE_FAILURE');
      expect(await verdict(claimsNobody, context)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
  });

  it('trusts the given CAs, a PEM file of several as well, and refuses a chain signed by none of them', async () => {
    const fromOurs = await server(await ours.issue({ names: ['push.test'] }));
    const fromOther = await server(await other.issue({ names: ['push.test'] }));
    const fromStranger = await server(await stranger.issue({ names: ['push.test'] }));
    const context = trustingContext([ours.cert + other.cert]);
    expect(await verdict(fromOurs, context)).toBe('trusted');
    expect(await verdict(fromOther, context)).toBe('trusted');
    expect(await verdict(fromStranger, context)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(fromOther, trustingContext([ours.cert]))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it("adds the CAs to that context only: Node's default store and later contexts are left alone", async () => {
    const fromOurs = await server(await ours.issue({ names: ['push.test'] }));
    expect(await verdict(fromOurs, trustingContext([ours.cert]))).toBe('trusted');
    expect(await verdict(fromOurs)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(fromOurs, tls.createSecureContext({}))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(await verdict(fromOurs, trustingContext([]))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('keeps the options it is given (a cipher list)', async () => {
    const context = trustingContext([ours.cert], { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', maxVersion: 'TLSv1.2' });
    const port = await server(await ours.issue({ names: ['push.test'] }));
    const cipher = await new Promise<string | undefined>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'push.test', secureContext: context });
      socket.once('secureConnect', () => {
        resolve(socket.getCipher().standardName);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    expect(cipher).toBe('TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384');
  });
});

describe('runTrustingContext', () => {
  it("is one context per run's list of CAs and cipher choice, and each trusts its own list's CAs only", async () => {
    const fromOurs = await server(await ours.issue({ names: ['push.test'] }));
    const fromOther = await server(await other.issue({ names: ['push.test'] }));
    // Two runs: the lists are their settings' (equal contents or not, each run has its own).
    const runA = [ours.cert];
    const runB = [other.cert];
    const strong = { ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384', minVersion: 'TLSv1' } as const;
    expect(runTrustingContext(runA)).toBe(runTrustingContext(runA));
    expect(runTrustingContext(runA, strong)).toBe(runTrustingContext(runA, { ...strong }));
    expect(runTrustingContext(runA, strong)).not.toBe(runTrustingContext(runA));
    expect(runTrustingContext(runB)).not.toBe(runTrustingContext(runA));
    expect(runTrustingContext([ours.cert])).not.toBe(runTrustingContext(runA));
    for (const options of [{}, strong]) {
      expect(await verdict(fromOurs, runTrustingContext(runA, options))).toBe('trusted');
      expect(await verdict(fromOther, runTrustingContext(runA, options))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
      expect(await verdict(fromOther, runTrustingContext(runB, options))).toBe('trusted');
      expect(await verdict(fromOurs, runTrustingContext(runB, options))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    }
    expect(await verdict(fromOurs, runTrustingContext([]))).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });
});

/** What each rule of a run came to: `pass`, or its failure code. */
function verdicts(run: { stdout: string; stderr: string }): Record<string, string> {
  const results = JSON.parse(run.stdout || '{"results":[]}').results as Array<{ rule: string; status: string; error?: { code: string } }>;
  return Object.fromEntries(results.map((r) => [r.rule, r.error?.code ?? r.status]));
}

describe('--ca and NODE_EXTRA_CA_CERTS, run as a program and as `node bin/pushcheck.js`', () => {
  // Node 20 leaves a NODE_EXTRA_CA_CERTS it read itself out of a context that has CAs added (see trustingContext);
  // 22 and later keep it. Run as a program, pushcheck reads the file itself and adds it on every version.
  const keepsExtraCaCerts = Number(process.versions.node.split('.')[0]) >= 22;
  const families = ['127.0.0.1', '::1'];
  const rulesFor = new Map<string, string>();
  let extraFile: string;
  let caFile: string;

  beforeAll(async () => {
    if (!(await ipv6Available())) families.pop();
    extraFile = path.join(dir, 'extra.pem');
    caFile = path.join(dir, 'ca.pem');
    // Two of Node's bundled roots beside the test CA, as a system bundle has them (those are not read twice).
    writeFileSync(extraFile, [...tls.rootCertificates.slice(0, 2), other.cert].join('\n'));
    writeFileSync(caFile, ours.cert);
    for (const host of families) {
      const ports = [
        await server({ ...(await ours.issue({ names: ['*.trust.test'] })), host }),
        await server({ ...(await other.issue({ names: ['*.trust.test'] })), host }),
        await server({ ...(await stranger.issue({ names: ['*.trust.test'] })), host }),
      ];
      rulesFor.set(host, writeRuleFile(path.join(dir, `trust-${host.replace(/\W/g, '')}.yaml`), 'trust', 'trust', [
        { id: 'ca', host: 'ca.trust.test', ports: [ports[0] as number], check: 'tls' },
        { id: 'extra', host: 'extra.trust.test', ports: [ports[1] as number], check: 'tls' },
        { id: 'stranger', host: 'stranger.trust.test', ports: [ports[2] as number], check: 'tls' },
      ]));
    }
  });

  /** pushcheck on the three servers at `host`, executed as a program or as `node bin/pushcheck.js`. */
  function check(how: 'executed' | 'node', host: string, extra: string, args: string[] = []) {
    // Set or removed in every run (and NODE_OPTIONS with it), whatever this machine's own environment holds.
    const env = { NODE_EXTRA_CA_CERTS: extra, NODE_OPTIONS: '', NODE_USE_SYSTEM_CA: '' };
    const argv = [rulesFor.get(host) as string, '--resolve', `*.trust.test=${host}`, '-f', 'json', ...args];
    return runCli(argv, { env, ...(how === 'executed' && { command: [BIN] }) });
  }

  it.each(families)('run as a program on %s: the file is trusted, and only when it is set', async (host) => {
    const run = await check('executed', host, extraFile);
    expect(run.stderr).toBe('');
    expect(verdicts(run)).toEqual({ ca: 'tls_untrusted', extra: 'pass', stranger: 'tls_untrusted' });
    expect(run.code).toBe(1);
    expect(verdicts(await check('executed', host, ''))).toEqual({ ca: 'tls_untrusted', extra: 'tls_untrusted', stranger: 'tls_untrusted' });
  });

  it.each(families)("--ca on %s: its CAs and NODE_EXTRA_CA_CERTS are trusted; a chain signed by none still fails", async (host) => {
    const run = await check('executed', host, extraFile, ['--ca', caFile]);
    expect(run.stderr).toBe('');
    expect(verdicts(run)).toEqual({ ca: 'pass', extra: 'pass', stranger: 'tls_untrusted' });
    expect(JSON.parse(run.stdout).results.find((r: { rule: string }) => r.rule === 'stranger').error.message).toContain('Stranger CA');
    // Started as `node bin/pushcheck.js`, Node reads the file itself, and Node 20 drops it beside --ca.
    const started = await check('node', host, extraFile, ['--ca', caFile]);
    expect(started.stderr).toBe('');
    expect(verdicts(started)).toEqual({ ca: 'pass', extra: keepsExtraCaCerts ? 'pass' : 'tls_untrusted', stranger: 'tls_untrusted' });
  });

  it("a file that cannot be read gives Node's own warning, once, and the verdicts Node itself gives", async () => {
    const missing = path.join(dir, 'missing.pem');
    const run = await check('executed', '127.0.0.1', missing);
    expect(run.stderr).toBe(`Warning: Ignoring extra certs from \`${missing}\`, load failed: error:80000002:system library::No such file or directory\n`);
    expect(verdicts(run)).toEqual({ ca: 'tls_untrusted', extra: 'tls_untrusted', stranger: 'tls_untrusted' });
    // Against Node's own reading of the same files: a folder, a path through a file, a file whose second
    // certificate is bad (Node keeps the first and stops there), and a key's block before the CA, which Node passes
    // over where it reads and stops at where its base64 is bad.
    const malformed = path.join(dir, 'malformed.pem');
    writeFileSync(malformed, withCorruptSecondCertificate(other.cert) + ours.cert);
    const keyFirst = path.join(dir, 'key-first.pem');
    writeFileSync(keyFirst, (await ours.issue({ names: ['key.trust.test'] })).key + other.cert);
    const badKeyFirst = path.join(dir, 'bad-key-first.pem');
    writeFileSync(badKeyFirst, `-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n${other.cert}`);
    // Bytes after a certificate, inside its block: Node's reader takes the certificate and passes over the rest,
    // whether they are OpenSSL's trust settings (here refusing the CA for TLS servers) or not.
    const rejecting = path.join(dir, 'trust-settings.pem');
    writeFileSync(rejecting, withBytesAfterCertificate(other.cert, REJECT_SERVER_AUTH));
    const trailing = path.join(dir, 'trailing-bytes.pem');
    writeFileSync(trailing, withBytesAfterCertificate(other.cert, Buffer.from('0102030405', 'hex')) + ours.cert);
    // A socket, which open() refuses with ENXIO: an error libuv and the C library word differently.
    const socketFile = path.join(dir, 'ca.sock');
    const listening = net.createServer();
    await new Promise<void>((resolve) => listening.listen(socketFile, resolve));
    try {
      // 23 runs of the CLI in this test: each pair at once, and more than vitest's 30 s where a busy machine starts
      // Node slowly.
      for (const file of [missing, dir, path.join(extraFile, 'inside'), malformed, keyFirst, badKeyFirst, rejecting, trailing, socketFile]) {
        const [executed, started] = await Promise.all([check('executed', '127.0.0.1', file), check('node', '127.0.0.1', file)]);
        expect(executed.stderr, file).toBe(started.stderr);
        expect(verdicts(executed), file).toEqual(verdicts(started));
      }
      expect((await check('executed', '127.0.0.1', socketFile)).stderr).toBe(`Warning: Ignoring extra certs from \`${socketFile}\`, load failed: error:80000006:system library::No such device or address\n`);
    } finally {
      listening.close();
    }
    expect(verdicts(await check('executed', '127.0.0.1', rejecting))).toEqual({ ca: 'tls_untrusted', extra: 'pass', stranger: 'tls_untrusted' });
    expect(verdicts(await check('executed', '127.0.0.1', trailing))).toEqual({ ca: 'pass', extra: 'pass', stranger: 'tls_untrusted' });
    const bad = await check('executed', '127.0.0.1', malformed);
    expect(bad.stderr).toMatch(new RegExp(`^Warning: Ignoring extra certs from \`${malformed}\`, load failed: error:[0-9A-F]{8}:[^\n]+\n$`));
    expect(verdicts(bad)).toEqual({ ca: 'tls_untrusted', extra: 'pass', stranger: 'tls_untrusted' });
  }, 120_000);
});

describe('prepareRunTrustingContext', () => {
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

  it('makes the run context at the next turn, not at once, and only while something still waits for it', async () => {
    const made = vi.spyOn(tls, 'createSecureContext');
    try {
      const waiting = [ours.cert];
      const options = vi.fn(() => ({}));
      prepareRunTrustingContext(waiting, options, () => true);
      prepareRunTrustingContext(waiting, options, () => true);
      // Not at once: the connects that are being started go first (their options are not asked for yet either).
      expect(made).not.toHaveBeenCalled();
      expect(options).not.toHaveBeenCalled();
      await turn();
      expect(made).toHaveBeenCalledTimes(1);
      const context = runTrustingContext(waiting);
      expect(made).toHaveBeenCalledTimes(1);
      // Made already: nothing more, now or at the next turn.
      prepareRunTrustingContext(waiting, () => ({}), () => true);
      await turn();
      expect(made).toHaveBeenCalledTimes(1);
      expect(runTrustingContext(waiting)).toBe(context);
      // A connection that ended before the turn came needs none.
      const done = [ours.cert];
      const doneOptions = vi.fn(() => ({}));
      prepareRunTrustingContext(done, doneOptions, () => false);
      await turn();
      expect(made).toHaveBeenCalledTimes(1);
      expect(doneOptions).not.toHaveBeenCalled();
      // Options a context cannot be made with: the error is the handshake's to meet, not thrown at the next turn.
      const unmakeable = [ours.cert];
      prepareRunTrustingContext(unmakeable, () => ({ ciphers: 'NO-SUCH-CIPHER' }), () => true);
      await turn();
      expect(() => runTrustingContext(unmakeable, { ciphers: 'NO-SUCH-CIPHER' })).toThrow(/no cipher match/i);
      // The same context as made without the preparation: it trusts what it should.
      const port = await server(await ours.issue({ names: ['push.test'] }));
      expect(await verdict(port, context)).toBe('trusted');
      expect(await verdict(await server(await stranger.issue({ names: ['push.test'] })), context)).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    } finally {
      made.mockRestore();
    }
  });
});

describe('deviceTrustingContext', () => {
  // In a Node of its own: one started with NODE_EXTRA_CA_CERTS (Node reads it, at start on 20, at the first context on
  // 22 and later), and one whose reading bin/pushcheck.js handed over (pushcheck reads it), the file holding `other`.
  const started = async (deferred: boolean, extraFile: string, ports: Record<string, number>): Promise<Record<string, string>> => {
    const script = `
      const tls = await import('node:tls');
      const { resumeExtraCaCerts } = await import(${JSON.stringify(new URL('../../dist/extra-ca-certs.js', import.meta.url).pathname)});
      const { deviceTrustingContext, trustingContext } = await import(${JSON.stringify(new URL('../../dist/trust.js', import.meta.url).pathname)});
      resumeExtraCaCerts();
      const verdict = (port, secureContext) => new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'push.test', secureContext, rejectUnauthorized: false, checkServerIdentity: () => undefined });
        socket.once('secureConnect', () => { resolve(socket.authorized ? 'trusted' : String(socket.authorizationError)); socket.destroy(); });
        socket.once('error', reject);
      });
      const ports = ${JSON.stringify(ports)};
      const ours = ${JSON.stringify(ours.cert)};
      const seen = {
        machine: await verdict(ports.fromOther, trustingContext([ours])),
        device: await verdict(ports.fromOther, deviceTrustingContext([ours])),
        deviceGiven: await verdict(ports.fromOurs, deviceTrustingContext([ours])),
        deviceRoot: await verdict(ports.claimsRoot, deviceTrustingContext([ours])),
      };
      process.stdout.write(JSON.stringify(seen));`;
    const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '', NODE_USE_SYSTEM_CA: '' };
    delete env.NODE_EXTRA_CA_CERTS;
    delete env[HANDOVER];
    // The hand-over names the pid of the Node it was made for, or its parent's: this process's.
    if (deferred) env[HANDOVER] = `${process.pid}:${extraFile}`;
    else env.NODE_EXTRA_CA_CERTS = extraFile;
    // Not spawnSync: the servers are this process's, and answer only while its loop runs.
    const { stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', script], { env, encoding: 'utf8', timeout: 60_000 });
    expect(stderr).toBe('');
    return JSON.parse(stdout) as Record<string, string>;
  };

  it("trusts Node's bundled roots and the CAs given, never NODE_EXTRA_CA_CERTS, on every Node version and either way it was read", async () => {
    const extraFile = path.join(dir, 'device-extra.pem');
    writeFileSync(extraFile, other.cert);
    const root = tls.rootCertificates.find((pem) => new X509Certificate(pem).publicKey.asymmetricKeyType === 'ec') as string;
    const ports = {
      fromOther: await server(await other.issue({ names: ['push.test'] })),
      fromOurs: await server(await ours.issue({ names: ['push.test'] })),
      claimsRoot: await server(await claimingIssuer(new x509.X509Certificate(root).subjectName)),
    };
    for (const deferred of [false, true]) {
      const seen = await started(deferred, extraFile, ports);
      expect(seen, `deferred: ${deferred}`).toEqual({
        // The checker trusts the file beside --ca where pushcheck reads it, and where Node 22 and later do (trustingContext).
        machine: deferred || Number(process.versions.node.split('.')[0]) >= 22 ? 'trusted' : 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        device: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
        deviceGiven: 'trusted',
        // A bundled root is there: a certificate naming it as issuer fails on the signature, not for want of an issuer.
        deviceRoot: 'CERT_SIGNATURE_FAILURE',
      });
    }
  });
});
