/**
 * Ctrl-C and SIGTERM through abortOnStopSignals, with an AbortController and with the QuickController the check command
 * hands it (followed by runChecks without an event listener): the same run interrupted, the same exit code.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuickController } from '../src/probes/phases.js';
import { runChecks } from '../src/run/run.js';
import { abortOnStopSignals, Interrupted } from '../src/signals.js';
import { startTcpServer, type TestServer } from './helpers/servers.js';
import { checkSettings, rule, ruleSet } from './helpers/literals.js';

const settings = checkSettings({ timeoutMs: 10_000, concurrency: 2, pins: [{ host: '*.signals.test', address: '127.0.0.1' }] });

let silent: TestServer;
beforeAll(async () => {
  silent = await startTcpServer(); // accepts, never answers: a TLS handshake waits
});
afterAll(async () => {
  await silent.close();
});

describe('abortOnStopSignals', () => {
  it.each([
    ['an AbortController', () => new AbortController()],
    ['a QuickController (the check command)', () => new QuickController()],
  ] as const)('with %s: SIGTERM interrupts a run, pending targets skipped, exit code 143', async (_, make) => {
    const before = process.listeners('SIGTERM');
    const controller = make();
    const interrupt = abortOnStopSignals(controller);
    // The listener it added, called as Node calls it on SIGTERM (a real signal would reach the test runner's too).
    const onSigterm = process.listeners('SIGTERM').find((listener) => !before.includes(listener)) as (signal: NodeJS.Signals) => void;
    try {
      const set = ruleSet([rule({ id: 'slow', host: 'slow.signals.test', probe: ['a.signals.test', 'b.signals.test', 'c.signals.test'], ports: [silent.port], check: 'tls' })]);
      const started = performance.now();
      const pending = runChecks([set], settings, { signal: interrupt.signal });
      await new Promise((resolve) => setTimeout(resolve, 200));
      // runChecks follows a QuickController's signal through the controller itself, not an 'abort' listener.
      expect(getEventListeners(interrupt.signal, 'abort')).toHaveLength(controller instanceof QuickController ? 0 : 1);
      onSigterm('SIGTERM');
      const report = await pending;
      expect(performance.now() - started).toBeLessThan(5000);
      expect(interrupt.signal.aborted).toBe(true);
      expect(interrupt.signal.reason).toBeInstanceOf(Interrupted);
      expect(report).toMatchObject({ interrupted: true, exitCode: 143 });
      expect(report.results.map((r) => [r.status, r.note])).toEqual([
        ['skip', 'interrupted'],
        ['skip', 'interrupted'],
        ['skip', 'interrupted'],
      ]);
    } finally {
      interrupt.release();
    }
    expect(process.listeners('SIGTERM')).toEqual(before);
  });
});
