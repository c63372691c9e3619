/**
 * The write probe (check `write`): can this machine write the message file where the IBI-aws Admin writes it?
 * It writes a small temporary file beside it, reads it back and removes it, over WebDAV (webdav://, webdavs://:
 * PROPFIND the folder, PUT, GET, DELETE), FTP (ftp://, ftps:// with AUTH TLS: login, STOR, SIZE, DELE) or a file
 * path (create, write, read, remove). The message file itself is never touched. Each step is timed (in the note);
 * a failure names the step. Credentials come from the URL or from the environment variable the rule names
 * (`write: { passwordEnv: NAME }`) and are never put in a message.
 */
import { basename, dirname, isAbsolute, join, posix } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type tls from 'node:tls';
import type { FieldPath, Fields } from '../fields.js';
import { ipVersion } from '../ip-version.js';
import type { Failure, FailureCode, ProbeOutcome, Target } from '../types.js';
import { errorCodes, failure } from './classify.js';
import { abortSignalOf, attemptDnsMs, Budget, isInterrupted, onAbort, roundMs } from './phases.js';
import { checkServerIdentity } from './server-identity.js';
import { runTrustingContext } from '../trust.js';
import { cryptoModule, tlsModule } from '../v8-defaults.js';
import type { AbortSignalLike, ProbeContext, ProbeKind } from './types.js';

/** A write check's settings (the rule's `write:` section). */
export interface WriteSettings {
  /** The environment variable holding the password, when the URL has a user but no password. */
  passwordEnv?: string;
}

/** This kind's check name and rule file section, added to types.ts's CheckNames (see there) and Rule. */
declare module '../types.js' {
  interface CheckNames {
    write: true;
  }
  interface Rule {
    /** Settings of a write check. */
    write?: WriteSettings;
  }
}

export type WriteScheme = 'webdav' | 'webdavs' | 'ftp' | 'ftps' | 'file';

export interface WriteLocation {
  scheme: WriteScheme;
  /** Host connected to; `localhost` for a file path. */
  host: string;
  /** 0 for a file path. */
  port: number;
  /** The message file's path: on the server (URL-decoded) or on this machine. */
  path: string;
  user?: string;
  password?: string;
}

const DEFAULT_PORTS: Record<Exclude<WriteScheme, 'file'>, number> = { webdav: 80, webdavs: 443, ftp: 21, ftps: 21 };

/** `webdavs://user:pass@host/dir/messages.ibi`, `ftp://…`, `file:///…` or an absolute path → where to write; else undefined. */
export function parseWriteUrl(text: string): WriteLocation | undefined {
  if (isAbsolute(text)) return { scheme: 'file', host: 'localhost', port: 0, path: text };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return undefined;
  }
  const scheme = url.protocol.slice(0, -1) as WriteScheme;
  if (scheme === 'file') return url.pathname.length > 1 ? { scheme, host: 'localhost', port: 0, path: decodeURIComponent(url.pathname) } : undefined;
  if (!(scheme in DEFAULT_PORTS) || url.hostname === '' || url.pathname.length <= 1) return undefined;
  return {
    scheme,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port === '' ? DEFAULT_PORTS[scheme] : Number(url.port),
    path: decodeURIComponent(url.pathname),
    ...(url.username !== '' && { user: decodeURIComponent(url.username) }),
    ...(url.password !== '' && { password: decodeURIComponent(url.password) }),
  };
}

/** A step that failed: its code and what happened, never with a credential in it. */
class StepError extends Error {
  constructor(readonly code: FailureCode, readonly step: string, detail: string) {
    super(`${step}: ${detail}`);
  }
}

/** What the write probe did, step by step (name → ms). */
type Steps = Array<[string, number]>;

async function step<T>(steps: Steps, name: string, work: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await work();
  } finally {
    steps.push([name, roundMs(performance.now() - start)]);
  }
}

const CONTENT = (): Buffer => Buffer.from(`pushcheck write test ${new Date().toISOString()} ${cryptoModule().randomBytes(8).toString('hex')}\n`);
const tempName = (messagePath: string): string =>
  posix.join(posix.dirname(messagePath), `.pushcheck-write-${cryptoModule().randomBytes(6).toString('hex')}.tmp`);

// ---------------------------------------------------------------- WebDAV

interface DavContext {
  location: WriteLocation;
  address: string;
  auth?: string;
  tls: tls.ConnectionOptions;
  signal: AbortSignal;
}

function davRequest(dav: DavContext, method: string, target: string, body?: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer }> {
  // node:http and node:https load with the first WebDAV target, not with every run (apns.ts says what they cost).
  const send = process.getBuiltinModule(dav.location.scheme === 'webdavs' ? 'node:https' : 'node:http').request;
  return new Promise((resolve, reject) => {
    const req = send(
      {
        host: dav.address,
        port: dav.location.port,
        method,
        path: target.split('/').map(encodeURIComponent).join('/'),
        signal: dav.signal,
        agent: false,
        headers: {
          host: ipVersion(dav.location.host) === 6 ? `[${dav.location.host}]:${dav.location.port}` : `${dav.location.host}:${dav.location.port}`,
          'user-agent': 'pushcheck',
          ...(dav.auth && { authorization: dav.auth }),
          ...(body && { 'content-length': String(body.length) }),
          ...headers,
        },
        ...dav.tls,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * The failure code of an HTTP status answering a WebDAV step. A 404 or 409 to the PROPFIND means the folder is not
 * there; after it answered, the same to a PUT is a refusal (rclone's --read-only answers a PUT with 404).
 */
function davStatusCode(status: number, stepName: string): FailureCode {
  if (status === 401 || status === 407) return 'auth_failed';
  if (status === 403 || status === 405 || status === 423 || status === 507) return 'write_denied';
  if (status === 404 || status === 409) return stepName === 'PROPFIND' ? 'write_not_found' : 'write_denied';
  return 'write_error';
}

async function writeWebdav(dav: DavContext, steps: Steps): Promise<string[]> {
  const folder = `${posix.dirname(dav.location.path).replace(/\/?$/, '/')}`;
  const temp = tempName(dav.location.path);
  const content = CONTENT();
  const expect = async (name: string, method: string, target: string, ok: (status: number) => boolean, body?: Buffer, headers?: Record<string, string>) => {
    const answer = await step(steps, name, () => davRequest(dav, method, target, body, headers));
    if (!ok(answer.status)) throw new StepError(davStatusCode(answer.status, name), name, `${method} ${target} answered HTTP ${answer.status}`);
    return answer;
  };
  await expect('PROPFIND', 'PROPFIND', folder, (s) => s === 207 || s === 200, undefined, { depth: '0' });
  await expect('PUT', 'PUT', temp, (s) => s >= 200 && s < 300, content, { 'content-type': 'application/octet-stream' });
  const notes: string[] = [];
  try {
    const back = await expect('GET', 'GET', temp, (s) => s === 200);
    if (!back.body.equals(content)) throw new StepError('write_readback', 'GET', `read back ${back.body.length} bytes, not the ${content.length} written`);
  } finally {
    await expect('DELETE', 'DELETE', temp, (s) => s >= 200 && s < 300).catch((err: unknown) => {
      notes.push(`the temporary file ${temp} could not be removed (${err instanceof Error ? err.message : String(err)}); remove it by hand`);
      throw err;
    });
  }
  return notes;
}

// ---------------------------------------------------------------- FTP

/** FTP reply codes: 530 not logged in, 550/553/552/532 refused (550 on a folder: not there). */
function ftpCode(err: unknown, stepName: string): FailureCode {
  const code = (err as { code?: unknown }).code;
  if (code === 530 || code === 331 || code === 332) return 'auth_failed';
  if (code === 550 && stepName === 'CWD') return 'write_not_found';
  if (code === 550 || code === 553 || code === 552 || code === 532 || code === 450) return 'write_denied';
  if (errorCodes(err).some((c) => c in CONNECT_FAILURES)) return CONNECT_FAILURES[errorCodes(err).find((c) => c in CONNECT_FAILURES) as string] as FailureCode;
  return 'write_error';
}

/** How much later than the probe's deadline basic-ftp's own timeout of inactivity falls due (see writeFtp). */
const FTP_CLIENT_TIMEOUT_MARGIN_MS = 1000;

const CONNECT_FAILURES: Record<string, FailureCode> = { ECONNREFUSED: 'tcp_refused', ETIMEDOUT: 'tcp_timeout', ECONNRESET: 'tcp_reset', EHOSTUNREACH: 'tcp_unreachable' };

async function writeFtp(location: WriteLocation, address: string, password: string | undefined, ctx: ProbeContext, steps: Steps, stop: AbortSignalLike): Promise<string[]> {
  // basic-ftp: a maintained, dependency-free FTP/FTPS client (explicit TLS, passive mode, reply codes on errors).
  // A bundled dynamic import of a CommonJS package has its exports under default only. basic-ftp requires node:tls
  // when it loads, even for plain ftp://: loaded first here, under V8's default flags (src/v8-defaults.ts).
  tlsModule();
  const ftp = (await import('basic-ftp')) as typeof import('basic-ftp') & { default?: typeof import('basic-ftp') };
  const Client = ftp.default?.Client ?? ftp.Client;
  // The budget's stop closes the client at the deadline, before basic-ftp's own timeout (of inactivity, from a later
  // start) can end it. But onAbort() calls nothing for a stop that has already aborted (the deadline or Ctrl-C may
  // come while basic-ftp loads): the client would then run past the deadline until its own timeout. It is not started.
  if (stop.aborted) throw new Error('stopped before the FTP client started');
  // Its own timer a second later than ours: the deadline is declared only after one look at the input (phases.ts
  // lookFirst), so after a stall across both, a client timer of --timeout from CWD's sending fired first and read
  // as a failed step ("CWD: failed") where the time ran out.
  const client = new Client(ctx.timeoutMs + FTP_CLIENT_TIMEOUT_MARGIN_MS);
  const stopListening = onAbort(stop, () => client.close());
  const run = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await step(steps, name, work);
    } catch (err) {
      // The deadline closed the client, and the step failed for it: passed on as it is, for writeWithin to say the
      // time ran out (not "login: failed").
      if (stop.aborted && !isInterrupted(stop)) throw err;
      const reply = (err as { code?: unknown }).code;
      const detail = typeof reply === 'number' ? `the server answered ${reply}` : errorCodes(err)[0] ?? 'failed';
      throw new StepError(ftpCode(err, name), name, detail);
    }
  };
  const folder = posix.dirname(location.path);
  const temp = posix.basename(tempName(location.path));
  const content = CONTENT();
  const notes: string[] = [];
  try {
    await run('login', () =>
      client.access({
        host: address,
        port: location.port,
        user: location.user ?? 'anonymous',
        password: password ?? 'anonymous@',
        secure: location.scheme === 'ftps',
        secureOptions: {
          servername: ipVersion(location.host) === 0 ? location.host : undefined,
          // The run's context, --ca or not: it also carries a NODE_EXTRA_CA_CERTS whose reading was deferred (trust.ts).
          ...(location.scheme === 'ftps' && { secureContext: runTrustingContext(ctx.ca) }),
          rejectUnauthorized: !ctx.insecure,
          checkServerIdentity,
        },
      }),
    );
    await run('CWD', () => client.cd(folder));
    await run('STOR', () => client.uploadFrom(Readable.from([content]), temp));
    try {
      const size = await run('SIZE', () => client.size(temp));
      if (size !== content.length) throw new StepError('write_readback', 'SIZE', `the server holds ${size} bytes, not the ${content.length} written`);
    } finally {
      await run('DELE', () => client.remove(temp)).catch((err: unknown) => {
        notes.push(`the temporary file ${folder}/${temp} could not be removed; remove it by hand`);
        throw err;
      });
    }
  } finally {
    stopListening();
    client.close();
  }
  return notes;
}

// ---------------------------------------------------------------- file path

const FILE_ERRNOS: Record<string, FailureCode> = {
  EACCES: 'write_denied',
  EPERM: 'write_denied',
  EROFS: 'write_denied',
  ENOSPC: 'write_denied',
  EDQUOT: 'write_denied',
  ENOENT: 'write_not_found',
  ENOTDIR: 'write_not_found',
};

async function writeLocalFile(location: WriteLocation, steps: Steps): Promise<string[]> {
  const folder = dirname(location.path);
  const temp = join(folder, basename(tempName(location.path)));
  const content = CONTENT();
  const run = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await step(steps, name, work);
    } catch (err) {
      const code = errorCodes(err)[0] ?? 'error';
      throw new StepError(FILE_ERRNOS[code] ?? 'write_error', name, `${code} on ${name === 'folder' ? folder : temp}`);
    }
  };
  // node:fs/promises (with the readline modules it loads, about 1.2 ms) only for a file:// write check.
  const { readFile, stat, unlink, writeFile } = process.getBuiltinModule('node:fs/promises');
  const info = await run('folder', () => stat(folder));
  if (!info.isDirectory()) throw new StepError('write_not_found', 'folder', `${folder} is not a folder`);
  await run('create', () => writeFile(temp, content, { flag: 'wx' }));
  const notes: string[] = [];
  try {
    const back = await run('read', () => readFile(temp));
    if (!back.equals(content)) throw new StepError('write_readback', 'read', `read back ${back.length} bytes, not the ${content.length} written`);
  } finally {
    await run('remove', () => unlink(temp)).catch((err: unknown) => {
      notes.push(`the temporary file ${temp} could not be removed; remove it by hand`);
      throw err;
    });
  }
  return notes;
}

// ---------------------------------------------------------------- the probe

/** The rule's `write:` section. */
function readWriteSettings(f: Fields, raw: unknown, at: FieldPath): WriteSettings {
  const w = f.mapping(raw, at, ['passwordEnv'], []);
  const settings: WriteSettings = {};
  if (w.passwordEnv !== undefined) {
    const name = f.string(w.passwordEnv, [...at, 'passwordEnv']);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) f.fail([...at, 'passwordEnv'], `"${name}" is not an environment variable name`);
    settings.passwordEnv = name;
  }
  return settings;
}

function stepsText(steps: Steps): string {
  return steps.map(([name, ms]) => `${name} ${ms} ms`).join(', ');
}

async function runWrite(target: Target, ctx: ProbeContext): Promise<ProbeOutcome> {
  // The attempt's time, as every probe's (runProbe): from ctx.startedAt (the scheduler's lookup included), and under
  // the scheduler bounded by the attempt's own signal, with no timer of its own left running after the probe.
  const budget = new Budget(ctx.timeoutMs, ctx.signal, ctx.startedAt, ctx.deadline);
  try {
    return await writeWithin(target, ctx, budget);
  } finally {
    budget.dispose();
  }
}

async function writeWithin(target: Target, ctx: ProbeContext, budget: Budget): Promise<ProbeOutcome> {
  const outcome: ProbeOutcome = { ok: false, addresses: [], pinned: false, timings: { totalMs: 0 } };
  const location = target.url === undefined ? undefined : parseWriteUrl(target.url);
  const steps: Steps = [];
  const finish = (problem?: Failure, notes: string[] = []): ProbeOutcome => {
    // Never less than the lookup it reports, as runProbe's totalMs.
    outcome.timings.totalMs = Math.max(roundMs(budget.elapsed()), outcome.timings.dnsMs ?? 0);
    const text = [steps.length > 0 ? `steps: ${stepsText(steps)}` : '', ...notes].filter(Boolean).join('; ');
    if (text) outcome.note = text;
    if (problem) outcome.failure = problem;
    outcome.ok = problem === undefined;
    return outcome;
  };
  if (!location) return finish(failure('write_error', 'write', 'not a webdav://, webdavs://, ftp://, ftps:// URL or an absolute file path'));
  const envName = target.rule.write?.passwordEnv;
  const password = location.password ?? (envName !== undefined ? process.env[envName] : undefined);
  let notes: string[] = [];
  try {
    if (location.scheme === 'file') {
      notes = await writeLocalFile(location, steps);
    } else {
      const resolution = await ctx.resolve(location.host, budget.stop);
      outcome.addresses = resolution.addresses;
      outcome.pinned = resolution.pinned;
      outcome.timings.dnsMs = attemptDnsMs(resolution, budget.elapsed(), ctx.startedAt);
      const address = resolution.addresses[0];
      if (resolution.failure) return finish(resolution.failure);
      if (address === undefined) return finish(failure('dns_no_address', 'dns', location.host));
      outcome.address = address;
      if (location.scheme === 'ftp' || location.scheme === 'ftps') {
        notes = await writeFtp(location, address, password, ctx, steps, budget.stop);
      } else {
        // The run's context, --ca or not (see writeFtp); none for plain WebDAV, which makes no TLS context at all.
        const secureContext = location.scheme === 'webdavs' ? runTrustingContext(ctx.ca) : undefined;
        const auth = location.user !== undefined ? `Basic ${Buffer.from(`${location.user}:${password ?? ''}`).toString('base64')}` : undefined;
        notes = await writeWebdav(
          {
            location,
            address,
            ...(auth && { auth }),
            // checkServerIdentity only for an IP literal: on Node 22 the option stops keep-alive reuse.
            tls: { ...(secureContext && { secureContext }), rejectUnauthorized: !ctx.insecure, ...(ipVersion(location.host) === 0 ? { servername: location.host } : { checkServerIdentity }) },
            // node:http takes only an AbortSignal: the attempt's controller makes it now.
            signal: abortSignalOf(budget.stop),
          },
          steps,
        );
      }
    }
    return finish(undefined, notes);
  } catch (err) {
    if (err instanceof StepError) return finish(failure(err.code, 'write', `${err.message}; ${stepsText(steps)}`), notes);
    if (budget.stop.aborted) return finish(failure('write_error', 'write', `timed out after ${ctx.timeoutMs} ms (${steps.at(-1)?.[0] ?? 'start'})`), notes);
    const code = errorCodes(err).find((c) => c in CONNECT_FAILURES);
    if (code) return finish(failure(CONNECT_FAILURES[code] as FailureCode, 'connect', code), notes);
    const certificate = errorCodes(err).find((c) => /CERT|SELF_SIGNED|UNABLE_TO/.test(c));
    if (certificate) return finish(failure('tls_untrusted', 'tls', certificate), notes);
    return finish(failure('write_error', 'write', errorCodes(err)[0] ?? (err instanceof Error ? err.message : String(err))), notes);
  }
}

export const writeProbe = {
  checks: [
    {
      name: 'write',
      plain: 'write',
      lastPhase: 'http',
      speaks: { tls: false, http: false },
      urlTarget: (url) => parseWriteUrl(url),
      urlForm: 'a webdav://, webdavs://, ftp:// or ftps:// URL, or an absolute file path',
    },
  ],
  sections: [{ key: 'write', read: readWriteSettings }],
  run: runWrite,
} satisfies ProbeKind;
