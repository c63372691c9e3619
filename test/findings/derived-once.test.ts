/**
 * A run's findings are derived once: the report's findings and the Prometheus format's label of each failure (every
 * /probe scrape of `pushcheck serve` renders both) come from one explanation, passed down in the report; findingsOf
 * explains every list it is given anew, however it changed.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { CAUSES, findingOfEachResult, findingsOf } from '../../src/findings/index.js';
import { prometheus } from '../../src/report/prometheus.js';
import type { Result } from '../../src/types.js';
import { report, result, richResults } from '../report/fixture.js';

/** Counts every detector's calls from now on. */
function countDetections(): () => number {
  const spies = CAUSES.map((cause) => vi.spyOn(cause, 'detect'));
  return () => spies.reduce((sum, spy) => sum + spy.mock.calls.length, 0);
}

afterEach(() => {
  vi.restoreAllMocks();
});

describe('findings derived once per run', () => {
  it('explains a run once for its report and its Prometheus text, and labels the same findings', () => {
    const results = richResults();
    const startedAt = '2026-01-01T00:00:00.000Z';
    const detections = countDetections();
    const findings = findingsOf(results, { startedAt });
    const once = detections();
    expect(once).toBeGreaterThan(0);
    const text = prometheus.render(report(results, { findings, startedAt }), { color: false });
    expect(detections()).toBe(once);
    // The labels are those of a fresh explanation of a copy of the list.
    const fresh = findingOfEachResult([...results], { startedAt });
    expect(detections()).toBe(2 * once);
    const labelled = results.filter((r) => fresh.has(r));
    expect(labelled.length).toBeGreaterThan(0);
    for (const r of labelled) expect(text).toContain(`finding="${fresh.get(r)!.cause}"`);
  });

  it('explains a list anew when an item was replaced, or the run started at another time', () => {
    const results = richResults();
    const first = findingsOf(results, { startedAt: 'a' });
    const detections = countDetections();
    expect(findingsOf(results, { startedAt: 'b' })).toEqual(first);
    const anew = detections();
    expect(anew).toBeGreaterThan(0);
    // Every failure replaced by a pass: nothing left to explain.
    results.forEach((r, i) => {
      if (r.status === 'fail' || r.status === 'warn') results[i] = result({ host: r.host, port: r.port });
    });
    expect(first.length).toBeGreaterThan(0);
    expect(findingsOf(results, { startedAt: 'b' })).toEqual([]);
  });

  it("explains a list anew when a result's verdict was changed in place", () => {
    const results = richResults();
    const first = findingsOf(results);
    expect(first.length).toBeGreaterThan(0);
    for (const r of results) {
      if (r.status !== 'fail' && r.status !== 'warn') continue;
      r.status = 'pass';
      delete r.error;
    }
    expect(findingsOf(results)).toEqual([]);
  });

  it('explains a list anew when a result changed in place in anything but its verdict', () => {
    // A copy of its own: the fixture's results share their error objects with other tests'.
    const results = structuredClone(richResults());
    const first = findingsOf(results);
    // The same error objects, each with another code; and a failure on another host.
    for (const r of results) if (r.error) (r.error as { code: string }).code = 'tcp_refused';
    results.find((r) => r.status === 'fail')!.host = 'moved.example';
    const now = findingsOf(results);
    expect(now).not.toEqual(first);
    expect(now).toEqual(findingsOf(structuredClone(results)));
    expect(now.some((f) => f.examples.some((e) => e.includes('moved.example:')))).toBe(true);
  });

  it("labels a report's failures anew when its findings were not made of its results (a saved report read back)", () => {
    const results = richResults();
    const startedAt = '2026-01-01T00:00:00.000Z';
    const saved = structuredClone(report(results, { findings: findingsOf(results, { startedAt }), startedAt }));
    const detections = countDetections();
    const text = prometheus.render(saved, { color: false });
    expect(detections()).toBeGreaterThan(0);
    const fresh = findingOfEachResult(saved.results, { startedAt });
    const labelled = saved.results.filter((r) => fresh.has(r));
    expect(labelled.length).toBeGreaterThan(0);
    for (const r of labelled) expect(text).toContain(`finding="${fresh.get(r)!.cause}"`);
  });

  it('explains a list anew when it grew', () => {
    const results: Result[] = richResults().filter((r) => r.status === 'pass');
    expect(findingsOf(results)).toEqual([]);
    results.push(...richResults().filter((r) => r.status !== 'pass'));
    expect(findingsOf(results)).toEqual(findingsOf([...results]));
    expect(findingsOf(results).length).toBeGreaterThan(0);
  });
});
