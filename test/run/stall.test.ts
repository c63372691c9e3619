/**
 * Honest timeouts: a probe that timed out while this process's event loop stood still measured the machine, not the
 * network. The loop is blocked here on purpose, by busy-waiting, against real loopback servers.
 */
import { getEventListeners } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QuickController } from '../../src/probes/phases.js';
import { runChecks, type CheckSettings } from '../../src/run/run.js';
import { lastRan, stalledMs, untilLoopFree, watchStalls } from '../../src/run/stall.js';
import { startHttpServer, startTcpServer, type TestServer } from '../helpers/servers.js';
import { rule, ruleSet } from '../helpers/literals.js';
import { busyFor, networkVerdict, watchLoop } from '../helpers/starved.js';
import { starvedBoundMs } from '../faults/netns.js';

function settings(timeoutMs: number, concurrency = 4): CheckSettings {
  return {
    timeoutMs,
    concurrency,
    retries: 0,
    strict: false,
    insecure: false,
    pins: [{ host: '*.stall.test', address: '127.0.0.1' }],
    caPems: [],
    vars: {},
    recorded: { timeoutMs, concurrency, retries: 0, resolve: [], caFiles: [], vars: [], strict: false, insecure: false },
  };
}

let slowAnswer: TestServer;
let silent: TestServer;
/** Set by a test: the next request slowAnswer gets blocks the loop this long before its answer is even timed. */
let blockOnNextRequestMs = 0;

beforeAll(async () => {
  // Answers after 50 ms. A block begun here falls where the probe is waiting for its answer, whenever a busy machine
  // let the request arrive, and the 50 ms are timed from its end: the probe's deadline, passed while the loop stood
  // still, is due before the answer can be, whatever order the loop then takes its timers and sockets in.
  slowAnswer = await startHttpServer((_req, res) => {
    const blockMs = blockOnNextRequestMs;
    blockOnNextRequestMs = 0;
    busyFor(blockMs);
    setTimeout(() => res.end('ok'), 50);
  });
  silent = await startTcpServer(); // accepts, never answers a ClientHello
});

afterAll(async () => {
  await Promise.all([slowAnswer.close(), silent.close()]);
});

describe('stall watch', () => {
  it('counts the time the loop was kept from running', async () => {
    const stop = watchStalls();
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      const before = stalledMs();
      busyFor(300);
      expect(stalledMs() - before).toBeGreaterThanOrEqual(250);
    } finally {
      stop();
    }
    expect(stalledMs()).toBe(0);
  });

  it('says when the loop last ran, as an event read during a stall sees it (run.ts judges what follows a lookup from there)', async () => {
    const stop = watchStalls();
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      const before = performance.now();
      busyFor(200);
      // No tick has run since the stall began: an answer read now waited out all of it, and the count starts before it.
      const now = performance.now();
      const ran = lastRan(now);
      expect(ran.at).toBeLessThanOrEqual(before + 10);
      expect(stalledMs(now) - ran.stalledMs).toBeGreaterThanOrEqual(190);
    } finally {
      stop();
    }
    const now = performance.now();
    expect(lastRan(now)).toEqual({ at: now, stalledMs: 0 });
  });

  it('counts stalls with no tick on time between them as one: an event read in the second waited out both', async () => {
    const stop = watchStalls();
    try {
      await new Promise((resolve) => setTimeout(resolve, 30));
      // The premise is that no tick runs on time between the two stalls. A machine that holds this process off for
      // 10-25 ms right after the late tick lets one more tick run, on time, before the setImmediate below, which rightly
      // parts the two stalls (seen beside six busy loops): so up to five tries, each judged as a whole.
      let seen: { when: string; at: number; before: number; counted: number }[] = [];
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const before = performance.now();
        busyFor(200);
        // The next timers phase runs the late tick that ends this stall; the setImmediate after it stands still again
        // at once, before the tick after it is due, as a machine that takes the CPU back as soon as it gave it does.
        const noted = await new Promise<number>((resolve) =>
          setTimeout(() =>
            setImmediate(() => {
              busyFor(100);
              resolve(performance.now());
            }),
          ),
        );
        // Before the tick that ends the second stall, and after it: an answer read at `noted` waited from `before`.
        seen = [];
        for (const when of ['during', 'after'] as const) {
          if (when === 'after') await new Promise((resolve) => setTimeout(resolve, 0));
          const ran = lastRan(noted);
          seen.push({ when, at: ran.at, before, counted: stalledMs(noted) - ran.stalledMs });
        }
        if (seen.every(({ at, before: from, counted }) => at <= from + 10 && counted >= 270)) break;
        console.log(`stall.test.ts: try ${attempt + 1} parted the two stalls (a tick ran on time between them?): ${JSON.stringify(seen)}`);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      for (const { when, at, before, counted } of seen) {
        expect(at, when).toBeLessThanOrEqual(before + 10);
        expect(counted, when).toBeGreaterThanOrEqual(270);
      }
    } finally {
      stop();
    }
  });

  it('waits for the loop to run freely, and no longer than it is told', async () => {
    const started = performance.now();
    const blocker = setInterval(() => busyFor(40), 50);
    try {
      await untilLoopFree(300);
    } finally {
      clearInterval(blocker);
    }
    const waited = performance.now() - started;
    expect(waited).toBeGreaterThanOrEqual(290);
  });

  it("follows the run's signal through onAbort(): many waits add no 'abort' listener to it, and an abort ends them all", async () => {
    // The run's signal is a QuickController's (run.ts): a wait for every starved target must not grow its listener list.
    const run = new QuickController();
    const waits = Array.from({ length: 50 }, () => untilLoopFree(60_000, run.signal));
    expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
    run.abort(new Error('interrupted'));
    await Promise.all(waits);
    // Any other signal gets an event listener, which each wait removes as it ends.
    const caller = new AbortController();
    await Promise.all(Array.from({ length: 5 }, () => untilLoopFree(60_000, caller.signal, 1)));
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0);
  });
});

describe('a probe whose wait was mostly a blocked loop', () => {
  it('is tried again once the loop is free: a healthy server passes, not http_timeout', async () => {
    const set = ruleSet([rule({ id: 'web', host: 'web.stall.test', ports: [slowAnswer.port], check: 'http' })]);
    // Not at a fixed time after the start: on a busy machine that fell before the request was sent, or after the
    // answer had been read (one attempt, passed).
    blockOnNextRequestMs = 2500;
    const report = await runChecks([set], settings(1000));
    const [result] = report.results;
    expect(result?.status).toBe('pass');
    expect(result?.attempts).toBe(2);
  });

  it('that stays blocked is local_overload, a warning, not a network timeout', async () => {
    const set = ruleSet([rule({ id: 'tls', host: 'tls.stall.test', ports: [silent.port], check: 'tls' })]);
    const blocker = setInterval(() => busyFor(60), 70);
    let report;
    try {
      report = await runChecks([set], settings(400));
    } finally {
      clearInterval(blocker);
    }
    const [result] = report.results;
    expect(result?.error?.code).toBe('local_overload');
    expect(result?.error?.message).toMatch(/would have read tls_handshake_failed/);
    expect(result?.status).toBe('warn');
    expect(report.exitCode).toBe(0);
  });

  it('on a free loop, a silent server is still a timeout', async () => {
    const set = ruleSet([rule({ id: 'tls', host: 'tls.stall.test', ports: [silent.port], check: 'tls' })]);
    const loop = watchLoop();
    const report = await runChecks([set], settings(400)).finally(loop.stop);
    const [result] = report.results;
    // Free unless a machine busy beside the test starved it: then local_overload, a warning naming this verdict, and
    // only where the loop stood still that long (networkVerdict).
    const verdict = networkVerdict(result!, { timeoutMs: 400, stalledMs: loop.stalledMs() });
    expect(verdict.code, result?.error?.message).toBe('tls_handshake_failed');
    expect(result?.status).toBe(verdict.overloaded ? 'warn' : 'fail');
  });
});

describe('the time bound of a run whose probes a busy machine starved', () => {
  /**
   * Runs `count` silent TLS targets while the loop is blocked 60 ms of every 70. `withheldMs`: how much later than
   * every 70 ms the blocker came, summed: time the machine kept this process from running beyond the blocks the test
   * makes. The bound assumes timers fire when due outside those blocks; a late timer ends its probe that much later.
   */
  async function starvedRun(count: number, concurrency: number, timeoutMs: number) {
    const set = ruleSet([
      rule({ id: 'tls', host: 'tls.stall.test', probe: Array.from({ length: count }, (_, i) => `t${i}.stall.test`), ports: [silent.port], check: 'tls' }),
    ]);
    let lastBlock = performance.now();
    let withheldMs = 0;
    const blocker = setInterval(() => {
      const now = performance.now();
      withheldMs += Math.max(0, now - lastBlock - 70);
      lastBlock = now;
      busyFor(60);
    }, 70);
    try {
      return { ...(await runChecks([set], settings(timeoutMs, concurrency))), withheldMs };
    } finally {
      clearInterval(blocker);
    }
  }

  it('counts the one overload retry: 8 starved targets, 4 at a time, take longer than the old bound and stay within the new one', async () => {
    const report = await starvedRun(8, 4, 400);
    expect(report.results).toHaveLength(8);
    for (const result of report.results) {
      expect(result.error?.code).toBe('local_overload');
      expect(result.attempts).toBe(2);
    }
    // Two rounds of a starved try, the wait for a free loop and a starved retry: more than ⌈T/c⌉ × (r + 1) × t + 1 s.
    expect(report.durationMs).toBeGreaterThan(400 * 2 * 1 + 1000);
    expect(report.durationMs).toBeLessThanOrEqual(starvedBoundMs(400, 8, 4, 0) + report.withheldMs);
  });

  it('retries at most 8 at once and only those that get their turn within 300 ms: 16 starved at once stay within one round of the bound', async () => {
    const report = await starvedRun(16, 16, 400);
    expect(report.results).toHaveLength(16);
    for (const result of report.results) expect(result.error?.code).toBe('local_overload');
    const retried = report.results.filter((r) => r.attempts === 2).length;
    // The first 8 are retried together; the other 8 would have waited a whole retry for their turn.
    expect(retried).toBe(8);
    expect(report.results.filter((r) => r.attempts === 1)).toHaveLength(8);
    expect(report.durationMs).toBeLessThanOrEqual(starvedBoundMs(400, 16, 16, 0) + report.withheldMs);
  });
});
