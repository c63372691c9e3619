/**
 * docs/prometheus/ against the real thing: promtool checks the configuration and the rules and runs the alert tests;
 * then a real Prometheus server (Debian's `prometheus`) with that configuration scrapes a `pushcheck serve` process
 * on loopback, and its HTTP API must say probe_success 1 for the open target and 0 for the closed one.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { startSite, type Site } from './fixture.js';
import { startServeProcess, type ServeProcess } from './process.js';
import { freePort } from '../helpers/free-port.js';

const DOCS = fileURLToPath(new URL('../../docs/prometheus/', import.meta.url));
const CONFIG_FILES = ['prometheus.yml', 'pushcheck-alerts.yml', 'pushcheck-recording.yml', 'pushcheck-alerts.test.yml'];

function tool(command: string, args: string[], cwd: string): { status: number | null; output: string } {
  const out = spawnSync(command, args, { cwd, encoding: 'utf8' });
  if (out.error) throw new Error(`${command} is not installed (Debian package prometheus; .ci/run installs it): ${out.error.message}`);
  return { status: out.status, output: out.stdout + out.stderr };
}

describe('docs/prometheus with promtool', () => {
  it('is a valid scrape configuration', () => {
    const out = tool('promtool', ['check', 'config', 'prometheus.yml'], DOCS);
    expect(out.output).toMatch(/SUCCESS: prometheus\.yml is valid/);
    expect(out.status).toBe(0);
  });

  it('has valid alerting and recording rules', () => {
    const out = tool('promtool', ['check', 'rules', 'pushcheck-alerts.yml', 'pushcheck-recording.yml'], DOCS);
    expect(out.output).toMatch(/SUCCESS: 5 rules found[\s\S]*SUCCESS: 2 rules found/);
    expect(out.status).toBe(0);
  });

  it('fires the alerts on the test series, and only those', () => {
    const out = tool('promtool', ['test', 'rules', 'pushcheck-alerts.test.yml'], DOCS);
    expect(out.output).toMatch(/SUCCESS/);
    expect(out.status).toBe(0);
  });
});


interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

describe('a real Prometheus scraping pushcheck serve', () => {
  let site: Site;
  let exporter: ServeProcess;
  let prometheus: ChildProcess | undefined;
  let dir: string;
  let api: string;
  let prometheusLog = '';

  beforeAll(async () => {
    site = await startSite();
    exporter = await startServeProcess(['--rules', site.ruleFile, '--timeout', '500']);
    dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-prometheus-'));
    for (const file of CONFIG_FILES) copyFileSync(path.join(DOCS, file), path.join(dir, file));
    // The documented configuration, scraping every second instead of every minute so two scrapes take seconds.
    const config = parse(readFileSync(path.join(dir, 'prometheus.yml'), 'utf8'));
    config.global.scrape_interval = '1s';
    config.global.scrape_timeout = '1s';
    config.global.evaluation_interval = '1s';
    writeFileSync(path.join(dir, 'prometheus.yml'), stringify(config));
    mkdirSync(path.join(dir, 'sites'));
    const address = new URL(exporter.url).host;
    writeFileSync(path.join(dir, 'sites', 'test.yml'), stringify([{ targets: [`site@${address}`], labels: { site: 'loopback' } }]));
    const port = await freePort();
    api = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.on('error', (err) => (prometheusLog += `cannot start prometheus (Debian package prometheus; .ci/run installs it): ${err.message}`));
    prometheus.stdout!.on('data', (chunk) => (prometheusLog += chunk));
    prometheus.stderr!.on('data', (chunk) => (prometheusLog += chunk));
  }, 60_000);

  afterAll(async () => {
    if (prometheus && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
      prometheus.kill('SIGTERM');
      const killer = setTimeout(() => prometheus!.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    }
    const stopped = await exporter?.stop('SIGTERM');
    await site?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(stopped?.code).toBe(0);
  }, 30_000);

  async function query(expr: string): Promise<Sample[]> {
    const res = await fetch(`${api}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = (await res.json()) as { status: string; data: { result: Sample[] } };
    return body.status === 'success' ? body.data.result : [];
  }

  it('records probe_success 1 for the open target and 0 for the closed one after two scrapes', async () => {
    // Bounded: 240 tries a quarter of a second apart; two scrapes take about 2 s once Prometheus is up.
    let scrapes = 0;
    for (let i = 0; i < 240 && scrapes < 2; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 250));
      const counted = await query('count_over_time(probe_success{job="pushcheck",rule="open"}[5m])').catch(() => []);
      scrapes = Number(counted[0]?.value[1] ?? 0);
    }
    expect(scrapes, `Prometheus never scraped twice; its log:\n${prometheusLog}`).toBeGreaterThanOrEqual(2);
    const success = await query('probe_success{job="pushcheck"}');
    const byRule = Object.fromEntries(success.map((s) => [s.metric.rule, s.value[1]]));
    expect(byRule.open).toBe('1');
    expect(byRule.closed).toBe('0');
    // The relabelling kept the site label and named the exporter as the instance.
    expect(success[0]?.metric.site).toBe('loopback');
    expect(success[0]?.metric.instance).toBe(new URL(exporter.url).host);
    const up = await query('up{job="pushcheck-exporter"}');
    expect(up[0]?.value[1]).toBe('1');
  }, 90_000);
});
