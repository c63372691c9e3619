/**
 * The mqtt probe: proves that an MQTT broker answers over TLS, not just something on its port. TLS, then an
 * MQTT 3.1.1 CONNECT (clean session, a random client id, no credentials); any CONNACK is a pass, for a broker that
 * refuses an anonymous client has still shown that it is there (the note says so). No CONNACK is
 * protocol_mismatch, naming what came instead. The packets are a dozen bytes, written here rather than taken from
 * an MQTT client library, so that the broker's exact answer is kept for the message.
 */
import { performance } from 'node:perf_hooks';
import type { Socket } from 'node:net';
import type { ProbeOutcome } from '../types.js';
import { classifyError, failure, PhaseError } from './classify.js';
import { bounded, runProbe, since } from './phases.js';
import { connectPhaseForTls, tlsPhase } from './tls.js';
import type { AbortSignalLike, KeptConnection, ProbeKind, ServerAnswer } from './types.js';
import { cryptoModule } from '../v8-defaults.js';

/** This kind's check names, added to types.ts's CheckNames (see there). */
declare module '../types.js' {
  interface CheckNames {
    mqtt: true;
  }
}

/** MQTT 3.1.1 CONNACK return codes (section 3.2.2.3). */
const CONNACK_CODES: Record<number, string> = {
  0: 'connection accepted',
  1: 'unacceptable protocol version',
  2: 'client identifier rejected',
  3: 'server unavailable',
  4: 'bad user name or password',
  5: 'not authorised',
};

/** Keep-alive asked for in CONNECT, s. */
export const MQTT_KEEPALIVE_S = 60;

/** An MQTT 3.1.1 CONNECT: protocol "MQTT" level 4, clean session, no credentials. */
export function connectPacket(clientId: string, keepAliveS = MQTT_KEEPALIVE_S): Buffer {
  const id = Buffer.from(clientId, 'utf8');
  const variable = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, keepAliveS >> 8, keepAliveS & 0xff]);
  const payload = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
  const remaining = variable.length + payload.length; // < 128: one length byte
  return Buffer.concat([Buffer.from([0x10, remaining]), variable, payload]);
}

/** Bytes, fit for a one-line message. */
function shown(bytes: Buffer): string {
  const text = bytes.subarray(0, 40).toString('latin1');
  return /^[\x20-\x7e\r\n]+$/.test(text) ? `"${text.replace(/\s+/g, ' ').trim()}"` : `0x${bytes.subarray(0, 16).toString('hex')}`;
}

/**
 * Resolves with the first `length` bytes the socket receives (fewer if it ends first); rejects on a socket error.
 * Leaves the socket paused, nothing consumed past `length`.
 */
export function readBytes(socket: Socket, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let bytes = Buffer.alloc(0);
    const done = (err?: unknown): void => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onError);
      socket.pause();
      if (err) reject(err);
      else resolve(bytes);
    };
    const onData = (chunk: Buffer): void => {
      bytes = Buffer.concat([bytes, chunk]);
      if (bytes.length >= length) {
        const rest = bytes.subarray(length);
        bytes = bytes.subarray(0, length);
        // Listeners off first: pushed back while this one listened, the rest came straight back to it, without end.
        done();
        if (rest.length > 0) socket.unshift(rest);
      }
    };
    const onEnd = (): void => done();
    const onError = (err: unknown): void => done(err);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onError);
    socket.resume();
  });
}

/** The largest keep-alive MQTT 3.1.1 can ask for (two bytes of seconds, about 18 hours). */
const MAX_KEEPALIVE_S = 65_535;

/**
 * The keep-alive to ask for when the connection is to sit idle for `idleMs` (--hold) and its PINGREQ may then wait
 * `timeoutMs`: a broker closes a connection silent for 1.5 times the keep-alive, which must not be what the hold sees.
 */
export function keepAliveFor(idleMs: number, timeoutMs: number): number {
  return Math.min(MAX_KEEPALIVE_S, Math.max(MQTT_KEEPALIVE_S, Math.ceil((idleMs + timeoutMs) / 1000)));
}

/**
 * Sends CONNECT and reads the CONNACK; the note or failure goes into `outcome`. Leaves the socket open. Resolves
 * with whether the broker accepted the client (CONNACK 0): only then does the connection stay open.
 */
export async function mqttConnect(
  socket: Socket,
  outcome: ProbeOutcome,
  signal: AbortSignalLike,
  timeoutMs: number,
  keepAliveS = MQTT_KEEPALIVE_S,
): Promise<boolean> {
  const start = performance.now();
  try {
    socket.write(connectPacket(`pushcheck-${cryptoModule().randomBytes(6).toString('hex')}`, keepAliveS));
    const answer = await bounded(readBytes(socket, 4), 'http', timeoutMs, signal);
    if (answer.length === 4 && answer[0] === 0x20 && answer[1] === 0x02) {
      const code = answer[3] ?? 0;
      const text = CONNACK_CODES[code] ?? 'unknown return code';
      outcome.note =
        code === 0
          ? 'the MQTT broker accepted an anonymous client (CONNACK 0)'
          : `the MQTT broker answered CONNACK ${code} (${text}): it refuses an anonymous client, and so has shown that it is there`;
      return code === 0;
    }
    const what = answer.length === 0 ? 'the server closed the connection without a CONNACK' : `got ${shown(answer)} instead of a CONNACK`;
    outcome.failure = failure('protocol_mismatch', 'http', `MQTT CONNECT: ${what}`);
    return false;
  } catch (err) {
    if (err instanceof PhaseError) {
      // Silence is no MQTT broker either: name it so.
      if (err.failure.code === 'http_timeout') {
        throw new PhaseError(failure('protocol_mismatch', 'http', `no CONNACK within ${Math.round(err.durationMs)} ms of MQTT CONNECT`), err.durationMs);
      }
      throw err;
    }
    throw new PhaseError(classifyError(err, 'http'), since(start));
  } finally {
    outcome.timings.httpMs = since(start);
  }
}

/** A stand-in answers CONNECT as a broker that admits no anonymous client: CONNACK 5, not authorised (a pass). */
const AS_BROKER: ServerAnswer = {
  serve(socket) {
    socket.once('data', () => socket.end(Buffer.from([0x20, 0x02, 0x00, 0x05])));
    socket.on('end', () => socket.end());
  },
};

const PINGREQ = 'an MQTT PINGREQ';

/** An MQTT connection kept for --hold; its proof is the PINGREQ a client's keep-alive sends, answered by PINGRESP. */
function keptMqtt(socket: Socket): KeptConnection {
  return {
    socket,
    prove: async () => {
      socket.write(Buffer.from([0xc0, 0x00]));
      const answer = await readBytes(socket, 2);
      if (answer.length === 2 && answer[0] === 0xd0 && answer[1] === 0x00) return `the broker answered ${PINGREQ} with PINGRESP`;
      return answer.length === 0
        ? `the broker closed the connection in answer to ${PINGREQ}`
        : `the broker answered ${PINGREQ} with ${shown(answer)} instead of PINGRESP`;
    },
    close: () => socket.destroy(),
  };
}

export const mqttProbe = {
  checks: [{ name: 'mqtt', plain: 'tcp', lastPhase: 'http', speaks: { tls: true, http: false }, answer: AS_BROKER }],
  hold: { proof: PINGREQ },
  run: (target, ctx) =>
    runProbe(target, ctx, async (addresses, outcome, budget) => {
      const socket = await connectPhaseForTls(addresses, target, ctx, outcome, budget);
      const session = await tlsPhase(socket, target, ctx, outcome, budget);
      if (session.clientCertificateRequired) {
        // The broker wants a client certificate: it is there, but MQTT cannot be spoken without one.
        outcome.note = `${outcome.note}; no MQTT CONNECT is possible without one`;
        return;
      }
      const tlsNote = outcome.note;
      let kept = false;
      try {
        const keepAliveS = ctx.hold ? keepAliveFor(ctx.hold.idleMs, ctx.timeoutMs) : MQTT_KEEPALIVE_S;
        const accepted = await mqttConnect(session.socket, outcome, budget.stop, budget.remaining(), keepAliveS);
        if (tlsNote && outcome.note !== tlsNote) outcome.note = `${tlsNote}; ${outcome.note}`;
        // A broker that refused the client closes the connection: nothing is left to hold.
        if (ctx.hold && accepted) {
          ctx.hold.keep(keptMqtt(session.socket));
          kept = true;
        }
      } finally {
        if (!kept) session.socket.destroy();
      }
    }),
} satisfies ProbeKind;
