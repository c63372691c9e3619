/** The format registry: one line per output format; `--format` choices come from here. */
import type { ReportFormat } from './types.js';
import { table } from './table.js';
import { json } from './json.js';

const registered: ReportFormat[] = [table, json];

export const formats: ReadonlyMap<string, ReportFormat> = new Map(registered.map((f) => [f.name, f]));
export const formatNames: readonly string[] = [...formats.keys()];

export type { ReportFormat, RenderOptions } from './types.js';
