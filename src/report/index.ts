/**
 * The format registry: one line per output format; `--format` choices come from here. A format's module, and the
 * libraries it needs (chalk and cli-table3 for the table), load only when that format is asked for: a run that
 * writes JSON or JUnit loads neither (2–3 ms of every such run, test/cli/start.test.ts).
 */
import type { ReportFormat } from './types.js';

const registered = new Map<string, () => Promise<ReportFormat>>([
  ['table', async () => (await import('./table.js')).table],
  ['json', async () => (await import('./json.js')).json],
  ['junit', async () => (await import('./junit.js')).junit],
  ['markdown', async () => (await import('./markdown.js')).markdown],
  ['prometheus', async () => (await import('./prometheus.js')).prometheus],
]);

export const formatNames: readonly string[] = [...registered.keys()];

/** The format named `name`, one of {@link formatNames}. */
export async function loadFormat(name: string): Promise<ReportFormat> {
  const load = registered.get(name);
  if (!load) throw new Error(`no report format named ${JSON.stringify(name)}: one of ${formatNames.join(', ')}`);
  return load();
}

export type { ReportFormat, RenderOptions } from './types.js';
