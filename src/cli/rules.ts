/** `pushcheck rules list|show|validate`: what is loaded, and whether a user's file is right. */
/**
 * `list` is answered from the summaries and the table stored at build time (rules/summaries.ts) and loads no YAML
 * parser, schema, probe kind or table library; `show`, `validate` and a `list` whose rule files changed parse as a
 * run does.
 */
import type { Command } from 'commander';
import { formatOption } from './options.js';
import { storedSummaries } from '../rules/summaries.js';
import type { RuleSet } from '../types.js';
import { isUsageError } from '../errors.js';
import { printError } from './messages.js';

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
    .action(async (flags: { format: string }) => {
      const stored = storedSummaries();
      const rows = stored?.summaries ?? (await import('../rules/builtin.js')).builtinSummaries();
      if (flags.format === 'json') {
        process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
        return;
      }
      process.stdout.write(stored?.table ?? (await import('./rules-table.js')).ruleSetTable(rows));
    });

  rules
    .command('show')
    .description('a rule set as loaded (ports expanded to numbers)')
    .argument('<name>', 'rule set name, alias, or file')
    .addOption(formatOption(['yaml', 'json']))
    .action(async (name: string, flags: { format: string }) => {
      const [{ resolveRuleSets }, { toYaml }] = await Promise.all([import('../rules/builtin.js'), import('../rules/load.js')]);
      const views = resolveRuleSets([name]).map(ruleSetView);
      const view = views.length === 1 ? views[0] : views;
      process.stdout.write(flags.format === 'json' ? `${JSON.stringify(view, null, 2)}\n` : toYaml(view));
    });

  rules
    .command('validate')
    .description('check rule files; exit 2 with file:line: field: problem on the first mistake in each')
    .argument('<files...>', 'YAML rule files')
    .action(async (files: string[]) => {
      const [{ loadRuleSetFile }, { countTargets }] = await Promise.all([import('../rules/load.js'), import('../rules/expand.js')]);
      for (const file of files) {
        try {
          const set = loadRuleSetFile(file);
          process.stdout.write(`${file}: ok — ${set.id}, ${set.rules.length} rules, ${countTargets(set, {})} targets\n`);
        } catch (err) {
          if (!isUsageError(err)) throw err;
          printError(err.message);
          process.exitCode = 2;
        }
      }
    });
}
