/**
 * `pushcheck rules list`'s table. The build renders it too, into the stored summaries (rules/summaries.ts), so that
 * listing the built-in rule sets loads no table library; a list whose rule files changed renders it here.
 */
import Table from 'cli-table3';
import type { RuleSetSummary } from '../rules/summaries.js';

export function ruleSetTable(rows: readonly RuleSetSummary[]): string {
  const table = new Table({ head: ['Rule set', 'Aliases', 'Title', 'Rules', 'Targets'], style: { head: [], border: [] } });
  for (const row of rows) table.push([row.id, row.aliases.join(', '), row.title, row.rules, row.targets]);
  return `${table.toString()}\n`;
}
