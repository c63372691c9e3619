/** `pushcheck rules list|show|validate`: what is loaded, and whether a user's file is right. */
import type { Command } from 'commander';
import { formatOption } from './options.js';
import Table from 'cli-table3';
import { stringify } from 'yaml';
import { loadBuiltinRuleSets, resolveRuleSets } from '../rules/builtin.js';
import { loadRuleSetFile } from '../rules/load.js';
import { countTargets } from '../rules/expand.js';
import type { RuleSet } from '../types.js';
import { isUsageError } from '../errors.js';
import { printError } from './messages.js';

function targetCount(set: RuleSet): number {
  return countTargets(set, {});
}

/** The rule set as loaded, without the loader's bookkeeping (line numbers, file path). */
export function ruleSetView(set: RuleSet): object {
  const { file: _file, builtin, rules, ...rest } = set;
  return {
    ...rest,
    builtin,
    rules: rules.map(({ line: _line, ...rule }) => rule),
  };
}

export function register(program: Command): void {
  const rules = program.command('rules').description('list, show and validate rule sets');

  rules
    .command('list')
    .description('the built-in rule sets')
    .addOption(formatOption(['table', 'json']))
    .action((flags: { format: string }) => {
      const sets = loadBuiltinRuleSets();
      const rows = sets.map((set) => ({
        id: set.id,
        aliases: set.aliases,
        title: set.title,
        rules: set.rules.length,
        targets: targetCount(set),
      }));
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      const table = new Table({ head: ['Rule set', 'Aliases', 'Title', 'Rules', 'Targets'], style: { head: [], border: [] } });
      for (const row of rows) table.push([row.id, row.aliases.join(', '), row.title, row.rules, row.targets]);
      process.stdout.write(`${table.toString()}\n`);
    });

  rules
    .command('show')
    .description('a rule set as loaded (ports expanded to numbers)')
    .argument('<name>', 'rule set name, alias, or file')
    .addOption(formatOption(['yaml', 'json']))
    .action((name: string, flags: { format: string }) => {
      const views = resolveRuleSets([name]).map(ruleSetView);
      const view = views.length === 1 ? views[0] : views;
      process.stdout.write(flags.format === 'json' ? `${JSON.stringify(view, null, 2)}\n` : stringify(view, { lineWidth: 0 }));
    });

  rules
    .command('validate')
    .description('check rule files; exit 2 with file:line: field: problem on the first mistake in each')
    .argument('<files...>', 'YAML rule files')
    .action((files: string[]) => {
      for (const file of files) {
        try {
          const set = loadRuleSetFile(file);
          process.stdout.write(`${file}: ok — ${set.id}, ${set.rules.length} rules, ${targetCount(set)} targets\n`);
        } catch (err) {
          if (!isUsageError(err)) throw err;
          printError(err.message);
          process.exitCode = 2;
        }
      }
    });
}
