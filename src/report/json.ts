import type { ReportFormat } from './types.js';

export const json: ReportFormat = {
  name: 'json',
  description: 'one JSON document (see schemas/report.schema.json)',
  render: (report) => `${JSON.stringify(report, null, 2)}\n`,
};
