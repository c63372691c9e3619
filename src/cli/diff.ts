/** `pushcheck diff OLD.json NEW.json`: what changed per target; exit 1 when something newly fails. */
import type { Command } from 'commander';
import { diffFormats, diffReports } from '../report/diff.js';
import { formatOption, noColorOption, useColor } from './options.js';
import { readReportFile } from './report-files.js';

interface DiffFlags {
  format: string;
  color?: boolean;
}

export function register(program: Command): void {
  program
    .command('diff')
    .description('compare two saved JSON reports target by target; exit 1 when a target newly fails')
    .argument('<old>', 'the earlier report')
    .argument('<new>', 'the later report')
    .addOption(formatOption([...diffFormats.keys()]))
    .addOption(noColorOption())
    .action(async (oldFile: string, newFile: string, flags: DiffFlags) => {
      const diff = diffReports(await readReportFile(oldFile), await readReportFile(newFile));
      process.stdout.write(diffFormats.get(flags.format)!(diff, { color: useColor(flags.color) }));
      process.exitCode = diff.exitCode;
    });
}
