/**
 * Ctrl-C (SIGINT) and SIGTERM stop pushcheck alike: what was done is kept and reported, and the exit code names
 * the signal as a shell does (128 + its number). SIGTERM is what CI job timeouts, `timeout` and `docker stop` send.
 */

export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
export type StopSignal = keyof typeof SIGNAL_EXIT_CODES;
export type StopExitCode = (typeof SIGNAL_EXIT_CODES)[StopSignal];

/** The reason an interrupted run was aborted with: the signal that stopped it. */
export class Interrupted extends Error {
  constructor(readonly signal: StopSignal) {
    super('interrupted');
  }
}

/** The exit code of a run aborted for `reason`: the signal's when it is an {@link Interrupted}, else Ctrl-C's. */
export function interruptedExitCode(reason: unknown): StopExitCode {
  return reason instanceof Interrupted ? SIGNAL_EXIT_CODES[reason.signal] : SIGNAL_EXIT_CODES.SIGINT;
}

/** The signal behind an exit code of {@link SIGNAL_EXIT_CODES}. */
export function signalOfExitCode(code: number): StopSignal | undefined {
  return (Object.keys(SIGNAL_EXIT_CODES) as StopSignal[]).find((signal) => SIGNAL_EXIT_CODES[signal] === code);
}

/**
 * Until `release()`, the first SIGINT or SIGTERM aborts `signal` (reason: {@link Interrupted}) so the work can stop
 * and report; a second one exits at once with its code, for a user who will not wait. `controller` may be any with
 * an AbortController's `signal` and `abort` (the check command's is a QuickController, which run.ts follows
 * without an event listener).
 */
export function abortOnStopSignals(
  controller: Pick<AbortController, 'signal' | 'abort'> = new AbortController(),
): { signal: AbortSignal; release(): void } {
  const onSignal = (signal: StopSignal): void => {
    if (controller.signal.aborted) process.exit(SIGNAL_EXIT_CODES[signal]);
    controller.abort(new Interrupted(signal));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    signal: controller.signal,
    release: () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    },
  };
}
