/**
 * `pushcheck serve` in process, against a test site on loopback: what /probe answers for an open, a closed and a
 * silent target, the 400s that keep it from being an open port scanner, shared runs, a run that throws, the
 * scrape deadline, /metrics (checked by promtool), the health endpoints, and the status page's escaping.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { escapeHtml, renderStatusPage } from '../../src/serve/page.js';
import { DEADLINE_NOTE } from '../../src/serve/exporter.js';
import { scrapeBudgetMs, SCRAPE_TIMEOUT_OFFSET_MS } from '../../src/serve/server.js';
import { parseListen, listenWarning } from '../../src/cli/serve.js';
import { expectPromtoolClean } from '../report/consumers.js';
import { nastyReport, NASTY, richReport } from '../report/fixture.js';
import { sampleValue, serve, startSite, type Served, type Site } from './fixture.js';

let site: Site;
const started: Served[] = [];

async function served(...args: Parameters<typeof serve>): Promise<Served> {
  const s = await serve(...args);
  started.push(s);
  return s;
}

beforeAll(async () => {
  site = await startSite();
});
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.server.close(0)));
});
afterAll(async () => {
  await site.close();
});

async function get(s: Served, path: string, headers: Record<string, string> = {}): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(`${s.server.url}${path}`, { headers });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

/** What `work` wrote on stderr, held back from the test's own output. */
async function stderrOf(work: () => Promise<void>): Promise<string> {
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    await work();
    return stderr.mock.calls.map(([text]) => String(text)).join('');
  } finally {
    stderr.mockRestore();
  }
}

describe('/probe', () => {
  it('answers probe_success 1 for the open target and 0 for the closed one, labelled by rule', async () => {
    const s = await served([site.ruleSet], { flags: { timeout: 500 } });
    const res = await get(s, '/probe?ruleset=site');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(sampleValue(res.body, 'probe_success', { rule: 'open', port: String(site.openPort) })).toBe(1);
    expect(sampleValue(res.body, 'probe_success', { rule: 'closed' })).toBe(0);
    expect(sampleValue(res.body, 'pushcheck_failure_info', { rule: 'closed', code: 'tcp_refused' })).toBe(1);
    expect(sampleValue(res.body, 'pushcheck_run_success')).toBe(0);
    expect(sampleValue(res.body, 'pushcheck_scrape_unfinished_targets')).toBe(0);
    expectPromtoolClean(res.body);
  });

  it('probes one rule with rule=ID, and takes a rule set by alias in any case', async () => {
    const s = await served([site.ruleSet]);
    const res = await get(s, '/probe?ruleset=SITE&rule=open');
    expect(res.status).toBe(200);
    expect(sampleValue(res.body, 'probe_success', { rule: 'open' })).toBe(1);
    expect(sampleValue(res.body, 'probe_success', { rule: 'closed' })).toBeUndefined();
  });

  it.each([
    ['/probe', /name a rule set: ruleset=site/],
    ['/probe?ruleset=nope', /no rule set "nope" is loaded; loaded: site/],
    ['/probe?ruleset=site&rule=nope', /rule set site has no rule "nope"; its rules: open, closed, silent/],
    ['/probe?ruleset=site&module=x', /unknown parameter "module"/],
    ['/probe?ruleset=site&ruleset=site', /parameter "ruleset" given more than once/],
    ['/probe?target=127.0.0.1:22', /start it with --allow-targets/],
    ['/probe?ruleset=site&check=tls', /"check" goes with "target" only/],
  ])('refuses %s with 400 and says why', async (path, message) => {
    const s = await served([site.ruleSet]);
    const res = await get(s, path);
    expect(res.status).toBe(400);
    expect(res.body).toMatch(message);
    expect(sampleValue((await get(s, '/metrics')).body, 'pushcheck_exporter_refused_queries_total')).toBe(1);
    // Nothing was probed for a refused query.
    expect(sampleValue((await get(s, '/metrics')).body, 'pushcheck_exporter_runs_total', { ruleset: 'site' })).toBeUndefined();
  });

  it('probes a target of the query only with --allow-targets, through the rule validation', async () => {
    const s = await served([site.ruleSet], { allowTargets: true });
    const ok = await get(s, `/probe?target=127.0.0.1:${site.openPort}&check=tcp`);
    expect(ok.status).toBe(200);
    expect(sampleValue(ok.body, 'probe_success', { ruleset: 'adhoc', port: String(site.openPort) })).toBe(1);
    for (const bad of ['/probe?target=127.0.0.1', '/probe?target=127.0.0.1:70000', '/probe?target=a:1&check=ftp', '/probe?target=a:1&ruleset=site']) {
      expect((await get(s, bad)).status, bad).toBe(400);
    }
    // An ad-hoc target is not a loaded rule set: the status page does not list it.
    expect((await get(s, '/')).body).not.toContain('adhoc');
  });

  it('lets concurrent scrapes of the same rule set share one run', async () => {
    const s = await served([site.ruleSet], { flags: { timeout: 800 } });
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(s, '/probe?ruleset=site')));
    for (const a of answers) expect(sampleValue(a.body, 'probe_success', { rule: 'open' })).toBe(1);
    const metrics = (await get(s, '/metrics')).body;
    expect(sampleValue(metrics, 'pushcheck_exporter_runs_total', { ruleset: 'site' })).toBe(1);
    expect(sampleValue(metrics, 'pushcheck_exporter_shared_scrapes_total')).toBe(4);
  });

  it('answers a run that throws as a failed probe, logs it, and keeps serving', async () => {
    const s = await served([site.ruleSet], { run: () => Promise.reject(new Error('a bug in a probe')) });
    const logged = await stderrOf(async () => {
      const res = await get(s, '/probe?ruleset=site');
      expect(res.status).toBe(200);
      expect(sampleValue(res.body, 'probe_success')).toBe(0);
    });
    expect(logged).toMatch(/BUG: the run of site threw: Error: a bug in a probe/);
    expect(sampleValue((await get(s, '/metrics')).body, 'pushcheck_exporter_run_errors_total', { ruleset: 'site' })).toBe(1);
    expect((await get(s, '/-/healthy')).status).toBe(200);
  });

  it('masks a credential in the message of a run that threw, as it logs it', async () => {
    const s = await served([site.ruleSet], { run: () => Promise.reject(new Error('no agent for http://alice:s3cret@proxy.test:3128')) });
    const logged = await stderrOf(async () => {
      expect((await get(s, '/probe?ruleset=site')).status).toBe(200);
    });
    expect(logged).toContain('BUG: the run of site threw: Error: no agent for http://***@proxy.test:3128');
    expect(logged).not.toContain('s3cret');
  });

  it('masks a credential that reached a report, on the status page and in /probe, as every report file does', async () => {
    // Secrets are masked where they enter a report; this is the net behind that, as report-files.ts has for files.
    const leaky = richReport();
    const proxied = 'http://alice:s3cret@proxy.test:3128';
    const failed = leaky.results.find((r) => r.status === 'fail' && r.error)!;
    failed.error = { ...failed.error!, message: `${proxied}: refused` };
    const s = await served([site.ruleSet], { run: () => Promise.resolve(leaky) });
    const probe = await get(s, '/probe?ruleset=site');
    expect(probe.status).toBe(200);
    const page = (await get(s, '/')).body;
    expect(page).toContain('http://***@proxy.test:3128: refused');
    for (const text of [probe.body, page, JSON.stringify(s.exporter.last.get('site'))]) expect(text).not.toContain('s3cret');
  });

  it('masks a credential in the error of a request it failed on before it logs the bug', async () => {
    const s = await served([site.ruleSet]);
    s.exporter.probe = () => {
      throw new Error('a bug in the exporter, via http://bob:pa55word@10.0.0.1:8080');
    };
    const logged = await stderrOf(async () => {
      expect((await get(s, '/probe?ruleset=site')).status).toBe(500);
    });
    expect(logged).toContain('BUG: GET /probe?ruleset=site: Error: a bug in the exporter, via http://***@10.0.0.1:8080');
    expect(logged).not.toContain('pa55word');
  });

  it('answers within the scrape timeout and marks the targets it could not finish', async () => {
    // One probe at a time, a silent TLS target first: its timeout shrinks to the scrape's budget, the others wait.
    const s = await served([{ ...site.ruleSet, rules: [...site.ruleSet.rules].reverse() }], { flags: { timeout: 20_000, concurrency: 1 } });
    const began = performance.now();
    const res = await get(s, '/probe?ruleset=site', { 'X-Prometheus-Scrape-Timeout-Seconds': '1.5' });
    const tookMs = performance.now() - began;
    expect(res.status).toBe(200);
    // Far below the probe's own 20 s timeout: the budget (1 s) bounded the run.
    expect(tookMs).toBeLessThan(10_000);
    const unfinished = sampleValue(res.body, 'pushcheck_scrape_unfinished_targets');
    expect(unfinished).toBeGreaterThanOrEqual(1);
    expect(sampleValue(res.body, 'pushcheck_target_status', { rule: 'open', status: 'skip' })).toBe(1);
    const last = s.exporter.last.get('site')!;
    expect(last.results.find((r) => r.rule === 'open')?.note).toBe(DEADLINE_NOTE);
  });
});

describe('the scrape budget', () => {
  it('is the header less blackbox_exporter offset, with a floor, and a default without the header', () => {
    expect(scrapeBudgetMs('10')).toBe(10_000 - SCRAPE_TIMEOUT_OFFSET_MS);
    expect(scrapeBudgetMs('0.2')).toBe(100);
    expect(scrapeBudgetMs(undefined)).toBe(10_000);
    expect(scrapeBudgetMs('soon')).toBe(10_000);
  });
});

describe('/metrics, health and the rest', () => {
  it('exposes the exporter health, valid for promtool', async () => {
    const s = await served([site.ruleSet], { flags: { timeout: 500 } });
    await get(s, '/probe?ruleset=site&rule=open');
    const res = await get(s, '/metrics');
    expect(res.status).toBe(200);
    expect(sampleValue(res.body, 'pushcheck_exporter_runs_total', { ruleset: 'site' })).toBe(1);
    expect(sampleValue(res.body, 'pushcheck_exporter_run_duration_seconds_count')).toBe(1);
    expect(sampleValue(res.body, 'pushcheck_exporter_rulesets')).toBe(1);
    expect(sampleValue(res.body, 'process_resident_memory_bytes')).toBeGreaterThan(1_000_000);
    expectPromtoolClean(res.body);
  });

  it('answers /-/healthy and /-/ready, 404 elsewhere, 405 for other methods', async () => {
    const s = await served([site.ruleSet]);
    expect((await get(s, '/-/healthy')).status).toBe(200);
    expect((await get(s, '/-/ready')).status).toBe(200);
    expect((await get(s, '/nope')).status).toBe(404);
    const post = await fetch(`${s.server.url}/probe?ruleset=site`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('the status page', () => {
  it('lists each rule set, says which were not probed yet, and links to /probe', async () => {
    const s = await served([site.ruleSet, { ...site.ruleSet, id: 'other', title: 'another', aliases: [] }], { flags: { timeout: 500 } });
    await get(s, '/probe?ruleset=site');
    const page = (await get(s, '/')).body;
    expect(page).toContain('<a href="/probe?ruleset=site">');
    expect(page).toMatch(/<li><a href="#site">site<\/a>: fail<\/li>/);
    expect(page).toMatch(/<li><a href="#other">other<\/a>: not probed yet<\/li>/);
    expect(page).toMatch(/<tr class="fail">.*closed.*tcp_refused.*<br>hint: .*<br>if it fails: nothing, it is a test/);
    expect(page).toMatch(/<tr class="pass">.*open/);
    expect(page).not.toMatch(/<script|https?:\/\/(?!exporter)/);
  });

  it('shows the findings of a rule set above its targets, with what to ask for', () => {
    const report = richReport();
    const set = { id: 'moki-ios', title: 't', aliases: [], notes: [], rules: [], file: 'x', builtin: false };
    const page = renderStatusPage({ ruleSets: [set], last: new Map([['moki-ios', report]]), version: '1', listen: 'x' });
    const [critical, info] = report.findings;
    expect(page).toContain(`<li class="finding critical"><strong>critical: ports_blocked</strong>: ${escapeHtml(critical!.summary)}`);
    expect(page).toContain(`Ask for: ${escapeHtml(critical!.action)} (1 target, e.g. moki-ios/5 courier.sandbox.push.apple.com:5223)`);
    expect(page).toContain(`<strong>info: legacy_only</strong>: ${escapeHtml(info!.summary)}`);
    expect(page.indexOf('<h3>Findings</h3>')).toBeLessThan(page.indexOf('<table>'));
    const healthy = renderStatusPage({ ruleSets: [set], last: new Map([['moki-ios', { ...report, findings: [] }]]), version: '1', listen: 'x' });
    expect(healthy).not.toContain('Findings');
  });

  it('escapes what came from the network', () => {
    const report = nastyReport();
    const page = renderStatusPage({ ruleSets: [{ id: report.rulesets[0]!.id, title: 't', aliases: [], notes: [], rules: [], file: 'x', builtin: false }], last: new Map([[report.rulesets[0]!.id, report]]), version: '1', listen: 'x' });
    expect(page).not.toContain(NASTY);
    expect(page).not.toMatch(/<script|\u001b/);
  });
});

describe('--listen', () => {
  it('reads HOST:PORT, [IPv6]:PORT and :PORT', () => {
    expect(parseListen('127.0.0.1:9595')).toEqual({ host: '127.0.0.1', port: 9595 });
    expect(parseListen('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(parseListen(':9595')).toEqual({ host: '::', port: 9595 });
    for (const bad of ['9595', 'host:99999', '[nope]:1', '::1:9595']) expect(() => parseListen(bad), bad).toThrow(/--listen/);
  });

  it('warns before listening on every interface, not on loopback', () => {
    expect(listenWarning('::', 9595)).toMatch(/every interface: anyone who can reach port 9595/);
    expect(listenWarning('0.0.0.0', 9595)).toMatch(/every interface/);
    expect(listenWarning('127.0.0.1', 9595)).toBeUndefined();
    expect(listenWarning('::1', 9595)).toBeUndefined();
  });
});
