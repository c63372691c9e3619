/**
 * Golden files: every output format of a healthy report and of one with failures, as files named
 * `<case>.<exit code>.<format>` (goss's naming) in test/fixtures/golden/. A change of output shows as a diff of
 * those files in review. After a deliberate change of a format, rewrite them and read the diff:
 *
 *   npm run build && npx vitest run test/report/golden.test.ts --update
 *
 * Under CI=true a missing golden file fails instead of being written.
 */
import { describe, expect, it } from 'vitest';
import { formatNames, loadFormat } from '../../src/report/index.js';
import { formats } from '../helpers/formats.js';
import type { Report } from '../../src/types.js';
import { report, result, richReport } from './fixture.js';

/** A network that lets everything through; the retired binary-API port fails, as it does everywhere today. */
function healthyReport(): Report {
  return report([
    result({ port: 443 }),
    result({ port: 5223, timings: { dnsMs: 12.5, connectMs: 21.4, tlsMs: 28.9, totalMs: 62.8 } }),
    result({
      port: 2195,
      check: 'tcp',
      status: 'warn',
      timings: { dnsMs: 12.5, connectMs: 5000, totalMs: 5012.5 },
      error: {
        code: 'tcp_timeout',
        phase: 'connect',
        message: 'no answer to the connection attempt: a firewall is probably dropping the packets (timed out after 5000 ms)',
        hint: 'allow outbound TCP to this host and port',
      },
      note: 'retired port (since 2021-03-31): binary provider API',
      legacy: { retired: '2021-03-31', note: 'binary provider API' },
    }),
    result({
      ruleset: 'ibi-aws',
      rule: 'webservice',
      host: 'mobileservice.ibi-aws.net',
      documentedHost: 'mobileservice.ibi-aws.net',
      address: '52.29.10.1',
      addresses: ['52.29.10.1'],
      check: 'https',
      purpose: 'Web service',
      impact: 'Devices cannot reach the web service',
      http: { status: 200, contentType: 'text/html; charset=utf-8', bytes: 27 },
      timings: { dnsMs: 8.1, connectMs: 15.2, tlsMs: 31, httpMs: 22.4, totalMs: 76.7 },
    }),
  ]);
}

const cases: Array<{ name: string; report: Report }> = [
  { name: 'healthy', report: healthyReport() },
  { name: 'failures', report: richReport() },
];

describe('golden files', () => {
  it('has one healthy case (exit 0) and one with failures (exit 1)', () => {
    expect(cases.map((c) => `${c.name}.${c.report.exitCode}`)).toEqual(['healthy.0', 'failures.1']);
  });

  it('has a format for each name of the registry, loaded when asked for, and none for another name', async () => {
    for (const name of formatNames) expect((await loadFormat(name)).name).toBe(name);
    await expect(loadFormat('yaml')).rejects.toThrow('no report format named "yaml": one of table, json, junit, markdown, prometheus');
  });

  const pairs = cases.flatMap((c) => formatNames.map((format) => [`${c.name}.${c.report.exitCode}.${format}`, c.report, format] as const));
  it.each(pairs)('%s', async (file, rendered, format) => {
    const text = formats.get(format)!.render(rendered, { color: false });
    await expect(text).toMatchFileSnapshot(`../fixtures/golden/${file}`);
  });
});
