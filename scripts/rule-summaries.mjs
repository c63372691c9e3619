// Stores what `pushcheck rules list` shows of each built-in rule set (run by `npm run build`, after tsc), with a
// hash of each file it was made from; src/rules/summaries.ts uses it only while rules/ is unchanged.
import { writeFileSync } from 'node:fs';
import { summariesToStore } from '../dist/rules/builtin.js';
import { SUMMARIES_PATH } from '../dist/rules/summaries.js';

writeFileSync(SUMMARIES_PATH, `${JSON.stringify(summariesToStore(), null, 2)}\n`);
