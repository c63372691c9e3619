/**
 * The apns probe: proves that an APNs provider endpoint itself answers, not just something on its port. TLS with
 * ALPN h2, then one HTTP/2 `POST /3/device/<64 zeros>` with an apns-topic and no credentials. APNs answers such a
 * request with its own JSON error (`{"reason":"MissingProviderToken"}`) and an `apns-id` header: that answer is a
 * pass. Anything else (no h2, an HTTP/2 answer without them) is protocol_mismatch, naming what answered instead.
 */
import type http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import type { TLSSocket } from 'node:tls';
import type { ProbeOutcome, Target } from '../types.js';
import { classifyError, failure, PhaseError } from './classify.js';
import { bounded, runProbe, since } from './phases.js';
import { connectPhaseForTls, tlsPhase } from './tls.js';
import type { AbortSignalLike, KeptConnection, ProbeKind, ServerAnswer } from './types.js';
import { cryptoModule } from '../v8-defaults.js';

/** node:http2 (with node:https, about 4 ms of every run's start on Node 20) loads with the first apns target. */
const loadHttp2 = (): typeof http2 => process.getBuiltinModule('node:http2');

/** This kind's check names, added to types.ts's CheckNames (see there). */
declare module '../types.js' {
  interface CheckNames {
    apns: true;
  }
}

/** A device token of the right form that no device has: APNs answers it without sending anything anywhere. */
export const NO_DEVICE_TOKEN = '0'.repeat(64);
/** A topic no app has; APNs judges the missing credentials before the topic. */
const TOPIC = 'com.example.pushcheck';
/** Bytes of the answer body read at most: APNs's JSON is a few dozen. */
const MAX_BODY_BYTES = 4096;

interface Answer {
  status: number;
  apnsId?: string;
  contentType?: string;
  body: string;
}

/** What an answer that is not APNs's looks like, for the message. */
function describe(answer: Answer): string {
  const type = answer.contentType ? `, ${answer.contentType}` : '';
  const text = answer.body.replace(/\s+/g, ' ').trim().slice(0, 60);
  return `HTTP/2 ${answer.status}${type}${text ? `: "${text}"` : ''}`;
}

/** APNs's reason, when the answer is APNs's own: a JSON object with a string reason, and an apns-id header. */
function apnsReason(answer: Answer): string | undefined {
  if (!answer.apnsId) return undefined;
  try {
    const parsed = JSON.parse(answer.body) as unknown;
    const reason = (parsed as { reason?: unknown } | null)?.reason;
    return typeof reason === 'string' ? reason : undefined;
  } catch {
    return undefined;
  }
}

/** One POST over the TLS socket; the session is closed on every path unless `keep` is set and an answer came. */
function post(
  socket: TLSSocket,
  target: Target,
  signal: AbortSignalLike,
  timeoutMs: number,
  keep: boolean,
): Promise<{ answer: Answer; session: http2.ClientHttp2Session }> {
  const authority = `https://${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
  const session = loadHttp2().connect(authority, { createConnection: () => socket });
  session.on('error', () => undefined);
  const exchange = new Promise<Answer>((resolve, reject) => {
    const body = JSON.stringify({ aps: { alert: 'pushcheck' } });
    const stream = session.request({
      ':method': 'POST',
      ':path': `/3/device/${NO_DEVICE_TOKEN}`,
      'apns-topic': TOPIC,
      'apns-push-type': 'alert',
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
    });
    let answer: Answer | undefined;
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('response', (headers) => {
      const id = headers['apns-id'];
      const type = headers['content-type'];
      answer = {
        status: Number(headers[':status']),
        ...(typeof id === 'string' && { apnsId: id }),
        ...(typeof type === 'string' && { contentType: type }),
        body: '',
      };
    });
    stream.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    stream.on('end', () => {
      if (!answer) reject(new Error('the stream ended without a response'));
      else resolve({ ...answer, body: Buffer.concat(chunks).toString('utf8') });
    });
    stream.on('error', reject);
    session.on('error', reject);
    session.on('goaway', (code: number) => {
      if (!answer) reject(Object.assign(new Error(`the server sent GOAWAY (${code}) before answering`), { code: 'ERR_HTTP2_GOAWAY_SESSION' }));
    });
    stream.end(body);
  });
  const close = (): void => {
    session.destroy();
    socket.destroy();
  };
  return bounded(exchange, 'http', timeoutMs, signal, () => session.destroy()).then(
    (answer) => {
      if (!keep) close();
      return { answer, session };
    },
    (err: unknown) => {
      close();
      throw err;
    },
  );
}

const PING = 'an HTTP/2 PING';

/** An APNs session kept for --hold; its proof is the PING that Apple tells providers to check a connection with. */
function keptSession(session: http2.ClientHttp2Session, socket: TLSSocket): KeptConnection {
  return {
    socket,
    prove: () =>
      new Promise<string>((resolve, reject) => {
        // The session's own error carries the socket's errno (ECONNRESET); the PING's is only "cancelled".
        session.once('error', reject);
        session.once('goaway', (code: number) => resolve(`the server answered ${PING} with GOAWAY (${code})`));
        const sent = session.ping((err) => {
          if (err) setImmediate(() => reject(err));
          else resolve(`the far end answered ${PING}`);
        });
        if (!sent) reject(new Error('the HTTP/2 session could not send a PING'));
      }),
    close: () => {
      session.destroy();
      socket.destroy();
    },
  };
}

/**
 * A stand-in answers as APNs's provider API answers a request without credentials: 403 MissingProviderToken with an
 * apns-id, over HTTP/2 (to a client that negotiated h2; APNs speaks nothing else).
 */
const AS_APNS: ServerAnswer = {
  alpn: { protocol: 'h2', required: true },
  serve(socket) {
    const session = loadHttp2().performServerHandshake(socket);
    session.on('error', () => undefined);
    session.on('stream', (stream) => {
      stream.on('error', () => undefined);
      stream.respond({ ':status': 403, 'apns-id': cryptoModule().randomUUID().toUpperCase(), 'content-type': 'application/json' });
      stream.end(JSON.stringify({ reason: 'MissingProviderToken' }));
    });
  },
};

export const apnsProbe = {
  checks: [{ name: 'apns', plain: 'tcp', lastPhase: 'http', speaks: { tls: true, http: false }, answer: AS_APNS }],
  hold: { proof: PING },
  run: (target, ctx) =>
    runProbe(target, ctx, async (addresses, outcome: ProbeOutcome, budget) => {
      const socket = await connectPhaseForTls(addresses, target, ctx, outcome, budget);
      const session = await tlsPhase(socket, target, ctx, outcome, budget, ['h2']).catch((err: unknown) => {
        // A server with no h2 refuses an h2-only offer with this alert: not APNs, whatever else it is.
        if (err instanceof PhaseError && err.failure.message.includes('"no application protocol"')) {
          const detail = 'asked for h2 in ALPN, the server refused it (TLS alert "no application protocol"): APNs speaks HTTP/2';
          throw new PhaseError(failure('protocol_mismatch', 'tls', detail), err.durationMs, err.recorded);
        }
        throw err;
      });
      const start = performance.now();
      if (session.clientCertificateRequired) {
        session.socket.destroy();
        throw new PhaseError(
          failure('protocol_mismatch', 'http', 'the server ended the TLS handshake for want of a client certificate; APNs answers without one'),
          since(start),
        );
      }
      if (session.info.alpn !== 'h2') {
        session.socket.destroy();
        const offered = session.info.alpn ? `chose ${session.info.alpn}` : 'chose no protocol';
        throw new PhaseError(failure('protocol_mismatch', 'http', `asked for h2 in ALPN, the server ${offered}: APNs speaks HTTP/2 only`), since(start));
      }
      let answer: Answer;
      let h2: http2.ClientHttp2Session;
      try {
        ({ answer, session: h2 } = await post(session.socket, target, budget.stop, budget.remaining(), ctx.hold !== undefined));
      } catch (err) {
        if (err instanceof PhaseError) throw err;
        throw new PhaseError(classifyError(err, 'http'), since(start));
      } finally {
        outcome.timings.httpMs = since(start);
      }
      outcome.http = { status: answer.status, ...(answer.contentType && { contentType: answer.contentType }) };
      const reason = apnsReason(answer);
      const kept = keptSession(h2, session.socket);
      if (reason === undefined) {
        kept.close();
        outcome.failure = failure('protocol_mismatch', 'http', `no APNs answer (JSON reason and apns-id): got ${describe(answer)}`);
        return;
      }
      const note = `APNs answered ${answer.status} ${reason} to a request without credentials, as it should (apns-id ${answer.apnsId})`;
      outcome.note = outcome.note ? `${outcome.note}; ${note}` : note;
      if (ctx.hold) ctx.hold.keep(kept);
      else kept.close();
    }),
} satisfies ProbeKind;
