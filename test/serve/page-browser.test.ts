/**
 * The status page as a person sees it: headless Chromium (Debian's `chromium`, driven by playwright-core with
 * executablePath; no browser download) with JavaScript off, since the page must read without it. The screenshot is
 * left in test-output/ for a look.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/run/run.js';
import { richReport } from '../report/fixture.js';
import { networkVerdict, watchLoop } from '../helpers/starved.js';
import { serve, startSite, type Served, type Site } from './fixture.js';

// The browser's own function, run in the page; the tests are compiled without the DOM's types.
declare const getComputedStyle: (element: unknown) => { backgroundColor: string };

const CHROMIUM = process.env.PUSHCHECK_CHROMIUM ?? '/usr/bin/chromium';
const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url));

describe('the status page in Chromium', () => {
  let site: Site;
  let served: Served;
  let browser: Browser;
  /** How long the event loop stood still while the test site was probed (its run is in this process). */
  let siteStalledMs = 0;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (.ci/run does)`);
    site = await startSite();
    // `rich` stands for a site with known causes: its run answers with the report fixture's results and findings.
    const rich = { ...site.ruleSet, id: 'moki-ios', title: 'a site with findings', aliases: [] };
    const later = { ...site.ruleSet, id: 'later', title: 'a rule set nobody scraped', aliases: [] };
    served = await serve([site.ruleSet, rich, later], {
      flags: { timeout: 500 },
      run: (sets, settings, hooks) => (sets[0]!.id === 'moki-ios' ? Promise.resolve(richReport()) : runChecks(sets, settings, hooks)),
    });
    const loop = watchLoop();
    for (const ruleset of ['site', 'moki-ios']) await fetch(`${served.server.url}/probe?ruleset=${ruleset}`).then((res) => res.text());
    loop.stop();
    siteStalledMs = loop.stalledMs();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      // As root, without a sandbox; no background traffic to hosts this machine cannot reach. Playwright gives it a
      // fresh profile of its own.
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await served?.server.close(0);
    await site?.close();
  });

  it('shows the rule sets, each target with its status colour, and links to /probe, without JavaScript', async () => {
    const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1200, height: 700 } });
    const page = await context.newPage();
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const response = await page.goto(served.server.url);
    expect(response?.status()).toBe(200);
    await expect(page.locator('h1').textContent()).resolves.toBe('pushcheck serve');
    await expect(page.locator('ul:not(.findings) > li').allTextContents()).resolves.toEqual(['site: fail', 'moki-ios: fail', 'later: not probed yet']);
    const rules = await page.locator('section:has(#site) tr[class] td:first-child').allTextContents();
    const statuses = await page.locator('section:has(#site) tr[class] td.status').allTextContents();
    // The silent TLS port fails its 500 ms handshake; on a machine so busy that the probing loop stood still for half
    // of it, twice, the run says local_overload instead, a warning naming that verdict (docs/timeouts.md), and the
    // page shows WARN: allowed only where this test's watch of the loop saw it stand still that long.
    const silent = served.exporter.last.get('site')?.results.find((result) => result.rule === 'silent');
    const verdict = networkVerdict(silent!, { timeoutMs: 500, stalledMs: siteStalledMs });
    expect(verdict.code, silent?.error?.message).toBe('tls_handshake_failed');
    const silentStatus = verdict.overloaded ? 'WARN' : 'FAIL';
    expect(rules.map((rule, i) => [rule, statuses[i]])).toEqual([['open', 'pass'], ['closed', 'FAIL'], ['silent', silentStatus]]);
    // Green for pass, red for FAIL, as the style says.
    const colour = (selector: string) => page.locator(selector).first().evaluate((cell) => getComputedStyle(cell).backgroundColor);
    await expect(colour('tr.pass td.status')).resolves.toBe('rgb(212, 244, 212)');
    await expect(colour('tr.fail td.status')).resolves.toBe('rgb(255, 201, 201)');
    await expect(page.locator('a[href="/probe?ruleset=later"]').count()).resolves.toBe(1);
    // The findings of the site that has them, most serious first, in the section of that rule set.
    const findings = await page.locator('section:has(#moki-ios) li.finding strong').allTextContents();
    expect(findings).toEqual(['critical: ports_blocked', 'info: legacy_only']);
    // The test site's own run: the closed port fails where the other two ports of the same host connect.
    await expect(page.locator('section:has(#site) li.finding strong').allTextContents()).resolves.toEqual(['critical: ports_blocked']);
    await expect(page.locator('section:has(#site) li.finding').textContent()).resolves.toContain(`Ask for: Allow outbound TCP ${site.closedPort} to 127.0.0.1.`);
    await expect(page.getByText('Not probed since the exporter started').count()).resolves.toBe(1);
    // Nothing but the page itself was loaded: no CDN, no fonts, no scripts.
    expect(requests).toEqual([`${served.server.url}/`]);
    mkdirSync(OUTPUT, { recursive: true });
    await page.screenshot({ path: path.join(OUTPUT, 'serve-status-page.png'), fullPage: true });
    expect(existsSync(path.join(OUTPUT, 'serve-status-page.png'))).toBe(true);
    await context.close();
  }, 60_000);
});
