/**
 * The exporter's HTTP server (node:http: five routes need no framework).
 *
 *   /probe?ruleset=NAME[&rule=ID]  runs those checks now; Prometheus text format, blackbox_exporter's names
 *   /metrics                        the exporter's own health
 *   /                               the status page
 *   /-/healthy, /-/ready            as Prometheus's own servers have them
 *
 * A scrape's answer is due before Prometheus gives up on it: the `X-Prometheus-Scrape-Timeout-Seconds` header, less
 * a margin for the answer's way back (blackbox_exporter keeps 0.5 s), bounds the run; unfinished targets are skipped
 * and marked. Shutting down closes the listener, lets the scrapes in flight finish within a bound, then aborts them.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { renderPrometheus } from '../report/prometheus.js';
import { redactText } from '../secrets.js';
import { version } from '../version.js';
import { DEADLINE_NOTE, Exporter, QueryError } from './exporter.js';
import { renderExporterMetrics } from './metrics.js';
import { renderStatusPage } from './page.js';

/** Time kept back from Prometheus's scrape timeout for the answer to travel: blackbox_exporter's default offset. */
export const SCRAPE_TIMEOUT_OFFSET_MS = 500;
/** A scrape that sends no timeout header gets this budget (Prometheus always sends one). */
export const DEFAULT_SCRAPE_BUDGET_MS = 10_000;

const PROMETHEUS_TEXT = 'text/plain; version=0.0.4; charset=utf-8';

export interface ServeServer {
  url: string;
  address: AddressInfo;
  /** Stops listening, lets the scrapes in flight finish for up to `graceMs`, then aborts them and closes. */
  close(graceMs: number): Promise<void>;
}

/** The time budget of one scrape: the header, less the offset; never below 100 ms. */
export function scrapeBudgetMs(header: string | undefined): number {
  const seconds = header !== undefined ? Number(header) : NaN;
  if (!Number.isFinite(seconds) || seconds <= 0) return DEFAULT_SCRAPE_BUDGET_MS;
  return Math.max(100, Math.round(seconds * 1000) - SCRAPE_TIMEOUT_OFFSET_MS);
}

export async function startServeServer(exporter: Exporter, listen: { host: string; port: number }): Promise<ServeServer> {
  let ready = false;
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A bug of ours: say so loudly, answer 500, keep serving.
      // An error's message may carry a URL with a password in it (a proxy's): masked as in every report.
      process.stderr.write(redactText(`pushcheck serve: BUG: ${req.method} ${req.url}: ${(err as Error)?.stack ?? String(err)}\n`));
      if (!res.headersSent) send(res, 500, 'text/plain; charset=utf-8', 'internal error (logged)\n');
      else res.destroy();
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    }
    const url = new URL(req.url ?? '/', 'http://exporter');
    switch (url.pathname) {
      case '/probe':
        return probe(url.searchParams, req, res);
      case '/metrics':
        return send(res, 200, PROMETHEUS_TEXT, renderExporterMetrics(exporter.stats, exporter.ruleSets.map((s) => s.id)));
      case '/':
        return send(res, 200, 'text/html; charset=utf-8', renderStatusPage({ ruleSets: exporter.ruleSets, last: exporter.last, version, listen: hostPort() }));
      case '/-/healthy':
        return send(res, 200, 'text/plain; charset=utf-8', 'pushcheck serve is Healthy.\n');
      case '/-/ready':
        return ready
          ? send(res, 200, 'text/plain; charset=utf-8', 'pushcheck serve is Ready.\n')
          : send(res, 503, 'text/plain; charset=utf-8', 'pushcheck serve is shutting down.\n');
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found: try /probe?ruleset=NAME, /metrics or /\n');
    }
  }

  async function probe(query: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let asked;
    try {
      asked = exporter.requestOf(query);
    } catch (err) {
      if (!(err instanceof QueryError)) throw err;
      exporter.stats.refused += 1;
      return send(res, 400, 'text/plain; charset=utf-8', `${err.message}\n`);
    }
    const budgetMs = scrapeBudgetMs(header(req, 'x-prometheus-scrape-timeout-seconds'));
    const report = await exporter.probe({ ...asked.request, budgetMs }, asked.ruleSets);
    if (!report) {
      // The run threw (logged by the exporter): a failed probe, as blackbox_exporter answers one.
      const body = [
        '# HELP probe_success Whether the probe passed (1) or not (0); not set for skipped targets',
        '# TYPE probe_success gauge',
        'probe_success 0',
        '',
      ].join('\n');
      return send(res, 200, PROMETHEUS_TEXT, body);
    }
    const unfinished = report.results.filter((r) => r.note === DEADLINE_NOTE).length;
    const extra = [
      '# HELP pushcheck_scrape_unfinished_targets Targets skipped because the scrape timeout came before they finished',
      '# TYPE pushcheck_scrape_unfinished_targets gauge',
      `pushcheck_scrape_unfinished_targets ${unfinished}`,
      '',
    ].join('\n');
    return send(res, 200, PROMETHEUS_TEXT, renderPrometheus(report) + extra);
  }

  function hostPort(): string {
    const a = server.address() as AddressInfo;
    return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: listen.host, port: listen.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  ready = true;
  const address = server.address() as AddressInfo;

  return {
    url: `http://${hostPort()}`,
    address,
    async close(graceMs: number): Promise<void> {
      ready = false;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, graceMs);
      });
      await Promise.race([exporter.settled(), grace]);
      clearTimeout(timer);
      // Past the bound: what finished is answered, the rest is skipped as interrupted.
      exporter.abortAll('shutting down');
      await exporter.settled();
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), 1000).unref();
      await closed;
    },
  };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function send(res: http.ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
