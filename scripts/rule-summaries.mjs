// Stores what `pushcheck rules list` shows of each built-in rule set (run by `npm run build`, after tsc): the
// summaries, the table the CLI prints of them, and the text of each file they were made from; src/rules/summaries.ts
// uses them only while rules/ is unchanged.
import { writeFileSync } from 'node:fs';
import { summariesToStore } from '../dist/rules/builtin.js';
import { SUMMARIES_PATH } from '../dist/rules/summaries.js';
import { ruleSetTable } from '../dist/cli/rules-table.js';

const stored = summariesToStore();
writeFileSync(SUMMARIES_PATH, `${JSON.stringify({ ...stored, table: ruleSetTable(stored.summaries) }, null, 2)}\n`);
