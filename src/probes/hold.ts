/**
 * --hold's idle wait and proof, the same for every kind that can hold: the connection a passed check kept sits
 * idle (nothing sent, no TCP keepalive, which would refresh a firewall's timer and hide what devices meet) for the
 * asked time; then the kind's proof is sent and must be answered within the probe timeout. A silent drop shows only
 * as an unanswered proof (idle_dropped); a reset (idle_reset) may come during the wait or in answer to the proof.
 */
import { performance } from 'node:perf_hooks';
import { formatDuration } from '../duration.js';
import type { Failure, HoldResult } from '../types.js';
import { describeTlsError, errorCodes, failure } from './classify.js';
import { isInterrupted, lookFirst, onAbort, roundMs } from './phases.js';
import type { AbortSignalLike, KeptConnection } from './types.js';

export interface HoldOptions {
  /** How long the connection sits idle, ms. */
  idleMs: number;
  /** How long the proof may wait for its answer (the probe timeout), ms. */
  timeoutMs: number;
  /** Ctrl-C or SIGTERM: ends the hold at once, as `interrupted`. */
  signal: AbortSignalLike;
  /** What the kind sends, completing "sent …". */
  proof: string;
}

/** What a hold found, and its failure when the path did not hold. */
export interface Held {
  result: HoldResult;
  failure?: Failure;
}

const RESET_CODES = ['ECONNRESET', 'EPIPE'];
/** Errors that mean the packets went nowhere: the flow was forgotten, as with no answer at all. */
const DROPPED_CODES = ['ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'];

type Ending = { kind: 'error'; err: unknown } | { kind: 'closed' } | { kind: 'interrupted' } | { kind: 'idle' } | { kind: 'answer'; text: string };

/**
 * Resolves when `ms` have passed and the loop has looked at its input once more (lookFirst: an answer or a reset that
 * came while it stood still across the end is read first), or earlier when the socket errs or closes, or the signal
 * aborts.
 */
function watch(kept: KeptConnection, ms: number, signal: AbortSignalLike, work?: Promise<string>): Promise<Ending> {
  const { socket } = kept;
  return new Promise((resolve) => {
    const done = (ending: Ending): void => {
      disarm();
      socket.off('error', onError);
      socket.off('close', onClose);
      stopListening?.();
      resolve(ending);
    };
    const onError = (err: unknown): void => done({ kind: 'error', err });
    const onClose = (): void => done({ kind: 'closed' });
    const onInterrupt = (): void => done({ kind: 'interrupted' });
    let stopListening: (() => void) | undefined;
    const disarm = lookFirst(() => done({ kind: 'idle' }), ms);
    socket.on('error', onError);
    socket.once('close', onClose);
    if (signal.aborted) onInterrupt();
    else stopListening = onAbort(signal, onInterrupt);
    work?.then(
      (text) => done({ kind: 'answer', text }),
      (err: unknown) => done({ kind: 'error', err }),
    );
  });
}

/** Keeps `kept` idle for `idleMs`, then proves it; closes it on every path. Never throws for a network problem. */
export async function holdConnection(kept: KeptConnection, options: HoldOptions): Promise<Held> {
  const { idleMs, timeoutMs, signal, proof } = options;
  const start = performance.now();
  const base = { requestedMs: idleMs, proof };
  const idleFor = (): number => roundMs(performance.now() - start);
  try {
    kept.socket.setKeepAlive(false);
    const idle = await watch(kept, idleMs, signal);
    if (idle.kind !== 'idle') return early(idle, idleFor(), base, signal);

    const idleMsDone = idleFor();
    const sent = performance.now();
    const proved = kept.prove();
    proved.catch(() => undefined);
    const answer = await watch(kept, timeoutMs, signal, proved);
    const answerMs = roundMs(performance.now() - sent);
    const after = `after ${formatDuration(idleMsDone)} idle`;
    switch (answer.kind) {
      case 'answer':
        return { result: { ...base, idleMs: idleMsDone, end: 'answered', answerMs, detail: `${answer.text} ${after}, in ${Math.round(answerMs)} ms` } };
      case 'interrupted':
        return { result: { ...base, idleMs: idleMsDone, end: 'interrupted', detail: `interrupted while waiting for the answer to ${proof} ${after}` } };
      case 'idle': {
        const detail = `no answer to ${proof} within ${Math.round(timeoutMs)} ms ${after}: the connection did not survive ${formatDuration(idleMsDone)} of idle time`;
        return { result: { ...base, idleMs: idleMsDone, end: 'dropped', detail }, failure: failure('idle_dropped', 'hold', detail) };
      }
      case 'closed':
        // A close without an error is a FIN from the far end: an answer, so the path held.
        return { result: { ...base, idleMs: idleMsDone, end: 'answered', answerMs, detail: `the far end closed the connection in answer to ${proof} ${after}, in ${Math.round(answerMs)} ms` } };
      case 'error':
        return errorEnding(answer.err, idleMsDone, base, `in answer to ${proof} ${after}`);
    }
  } finally {
    kept.close();
  }
}

/** The hold ended before the idle time was up. */
function early(ending: Ending, idleMs: number, base: Pick<HoldResult, 'requestedMs' | 'proof'>, signal: AbortSignalLike): Held {
  const after = `after ${formatDuration(idleMs)} of the ${formatDuration(base.requestedMs)} idle time`;
  if (ending.kind === 'error') return errorEnding(ending.err, idleMs, base, after);
  if (ending.kind === 'answer') throw new Error('a hold cannot be answered before its proof is sent');
  if (ending.kind === 'interrupted' || isInterrupted(signal)) {
    return { result: { ...base, idleMs, end: 'interrupted', detail: `interrupted ${after}` } };
  }
  return {
    result: { ...base, idleMs, end: 'closed', detail: `the server closed the connection ${after}; the path worked until then, and the hold proves nothing beyond` },
  };
}

function errorEnding(err: unknown, idleMs: number, base: Pick<HoldResult, 'requestedMs' | 'proof'>, when: string): Held {
  const codes = errorCodes(err);
  const reset = codes.find((code) => RESET_CODES.includes(code));
  if (reset) {
    const detail = `reset (${reset}) ${when}: the connection had survived less than ${formatDuration(idleMs)} of idle time`;
    return { result: { ...base, idleMs, end: 'reset', detail }, failure: failure('idle_reset', 'hold', detail) };
  }
  const dropped = codes.find((code) => DROPPED_CODES.includes(code));
  if (dropped) {
    const detail = `${dropped} ${when}: the connection did not survive ${formatDuration(idleMs)} of idle time`;
    return { result: { ...base, idleMs, end: 'dropped', detail }, failure: failure('idle_dropped', 'hold', detail) };
  }
  // Anything else came from the far end (a TLS alert, a protocol error): the path carried it.
  return { result: { ...base, idleMs, end: 'closed', detail: `the server ended the connection ${when} (${describeTlsError(err)})` } };
}
