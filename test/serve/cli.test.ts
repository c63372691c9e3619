/** `pushcheck serve` as a process: it stops cleanly on SIGTERM and SIGINT, finishing the scrape in flight; it refuses bad options with exit 2 (in process). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/cli.js';
import { expectStoodStillForStarved } from '../helpers/starved.js';
import { describeWitness } from '../helpers/witness.js';
import { sampleValue, startSite, type Site } from './fixture.js';
import { startServeProcess } from './process.js';

let site: Site;
beforeAll(async () => {
  site = await startSite();
});
afterAll(async () => {
  await site.close();
});

const TIMEOUT_MS = 1500;

describe('pushcheck serve, the process', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('on %s finishes the scrape in flight, stops listening and exits 0', async (signal) => {
    // The silent TLS target holds the scrape for its whole timeout.
    const serve = await startServeProcess(['--rules', site.ruleFile, '--timeout', String(TIMEOUT_MS)], { witness: true });
    try {
      const scrape = fetch(`${serve.url}/probe?ruleset=site`).then(async (res) => ({ status: res.status, body: await res.text() }));
      // Until the run has started, a signal would find nothing in flight: wait for it on /metrics.
      for (let i = 0; i < 100; i += 1) {
        const metrics = await (await fetch(`${serve.url}/metrics`)).text();
        if (sampleValue(metrics, 'pushcheck_exporter_runs_in_flight') === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const exit = serve.stop(signal);
      const answer = await scrape;
      expect(answer.status).toBe(200);
      expect(sampleValue(answer.body, 'probe_success', { rule: 'open' })).toBe(1);
      expect(await exit).toEqual({ code: 0, signal: null });
      // The silent target's handshake fails. On a machine so busy that the child's loop stood still for half of its
      // timeout, that attempt is starved and tried again (docs/timeouts.md): the try may outlast the shutdown's grace
      // (--timeout plus a second, docs/serve.md) and be cut short (skip), or be starved too (local_overload, a warning).
      // Either is allowed only where the child's loop witness saw it stand still that long. (A scrape carries a
      // failure's code and phase, not the message that would name the verdict a local_overload stands for.)
      const said = answer.body.split('\n').filter((line) => line.includes('rule="silent"'));
      const status = ['pass', 'fail', 'warn', 'skip'].find((s) => sampleValue(answer.body, 'pushcheck_target_status', { rule: 'silent', status: s }) === 1);
      const failed = (code: string) => sampleValue(answer.body, 'pushcheck_failure_info', { rule: 'silent', phase: 'tls', code }) === 1;
      if (status === 'fail') {
        expect(failed('tls_handshake_failed'), said.join('\n')).toBe(true);
      } else {
        expect(status === 'skip' || (status === 'warn' && failed('local_overload')), said.join('\n')).toBe(true);
        const witness = serve.witness();
        expect(witness, 'the child wrote no loop witness').toBeDefined();
        expectStoodStillForStarved(`silent, ${status} (${describeWitness(witness!)})`, { timeoutMs: TIMEOUT_MS, stalledMs: witness!.totalStallMs });
      }
      expect(serve.stderr()).toMatch(new RegExp(`${signal}: finishing the scrapes in flight[\\s\\S]*stopped`));
      await expect(fetch(`${serve.url}/-/healthy`)).rejects.toThrow();
    } finally {
      await serve.stop('SIGKILL');
    }
  });

  it.each([
    [['--listen', 'nowhere'], /^pushcheck: --listen "nowhere": expected HOST:PORT/],
    [['--rules', '/nonexistent/site.yaml'], /^pushcheck: .*site\.yaml/],
  ])('refuses %j with one line and exit 2 (in process)', async (args, message) => {
    const run = await runInProcess(['serve', ...args]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
