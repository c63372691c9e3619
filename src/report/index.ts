/** The format registry: one line per output format; `--format` choices come from here. */
import type { ReportFormat } from './types.js';
import { table } from './table.js';
import { json } from './json.js';
import { junit } from './junit.js';
import { markdown } from './markdown.js';
import { prometheus } from './prometheus.js';

const registered: ReportFormat[] = [table, json, junit, markdown, prometheus];

export const formats: ReadonlyMap<string, ReportFormat> = new Map(registered.map((f) => [f.name, f]));
export const formatNames: readonly string[] = [...formats.keys()];

export type { ReportFormat, RenderOptions } from './types.js';
