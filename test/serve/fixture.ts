/**
 * A site to scrape: loopback servers (an open port, a closed port, a silent TLS port) and a rule file that names
 * them, plus an exporter serving it in this process. Close it in afterAll.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { settingsFrom, type CheckFlags } from '../../src/cli/check.js';
import { loadRuleSetFile } from '../../src/rules/load.js';
import { runChecks } from '../../src/run/run.js';
import { Exporter, type RunChecks } from '../../src/serve/exporter.js';
import { startServeServer, type ServeServer } from '../../src/serve/server.js';
import type { RuleSet } from '../../src/types.js';
import { holdClosedPort, LOOPBACK, startTcpServer, type TestServer } from '../helpers/servers.js';

export interface Site {
  ruleFile: string;
  ruleSet: RuleSet;
  openPort: number;
  closedPort: number;
  silentPort: number;
  close(): Promise<void>;
}

/** Rule set `site`: rule `open` (tcp, passes), rule `closed` (tcp, refused), rule `silent` (tls, never answers). */
export async function startSite(): Promise<Site> {
  const open = await startTcpServer();
  const silent: TestServer = await startTcpServer();
  // Held, not only found free: a parallel test's server on it would make the `closed` rule pass.
  const closed = await holdClosedPort();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcheck-serve-'));
  const ruleFile = path.join(dir, 'site.yaml');
  const rule = (id: string, port: number, check: string) =>
    [
      `  - id: ${id}`,
      `    host: ${LOOPBACK}`,
      `    ports: [${port}]`,
      `    check: ${check}`,
      `    purpose: the ${id} port of the test site`,
      `    impact: nothing, it is a test`,
      '    severity: critical',
    ].join('\n');
  writeFileSync(
    ruleFile,
    ['id: site', 'title: a test site on loopback', 'rules:', rule('open', open.port, 'tcp'), rule('closed', closed.port, 'tcp'), rule('silent', silent.port, 'tls'), ''].join('\n'),
  );
  return {
    ruleFile,
    ruleSet: loadRuleSetFile(ruleFile),
    openPort: open.port,
    closedPort: closed.port,
    silentPort: silent.port,
    async close() {
      await Promise.all([open.close(), silent.close(), closed.close()]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const FLAGS: CheckFlags = {
  format: 'table',
  timeout: 2000,
  concurrency: 8,
  retries: 0,
  resolve: [],
  ca: [],
  var: [],
  strict: false,
  insecure: false,
};

export interface Served {
  exporter: Exporter;
  server: ServeServer;
}

export async function serve(
  ruleSets: RuleSet[],
  options: { flags?: Partial<CheckFlags>; allowTargets?: boolean; run?: RunChecks } = {},
): Promise<Served> {
  const exporter = new Exporter({
    ruleSets,
    settings: settingsFrom({ ...FLAGS, ...options.flags }),
    allowTargets: options.allowTargets ?? false,
    runChecks: options.run ?? runChecks,
  });
  const server = await startServeServer(exporter, { host: LOOPBACK, port: 0 });
  return { exporter, server };
}

/** The value of one sample of a Prometheus exposition, e.g. `probe_success{rule="open"}`; undefined when absent. */
export function sampleValue(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = Object.fromEntries([...(match[3] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(match[4]);
  }
  return undefined;
}
