/** `pushcheck report FILE.json`: a saved report rendered again, exactly as the live run showed it, same exit code. */
import type { Command } from 'commander';
import { formatNames } from '../report/index.js';
import { formatOption, noColorOption, useColor } from './options.js';
import { addOutputOptions, checkOutputs, emitReport, outputsFrom, readReportFile } from './report-files.js';

interface ReportFlags {
  format: string;
  color?: boolean;
}

export function register(program: Command): void {
  const command = program
    .command('report')
    .description('render a saved JSON report again (as the run showed it, with its exit code), or in another format')
    .argument('<file>', 'a report written by --json FILE or --format json')
    .addOption(formatOption(formatNames, 'what goes to stdout'));
  addOutputOptions(command)
    .addOption(noColorOption())
    .action(async (file: string, flags: ReportFlags) => {
      const outputs = outputsFrom(flags);
      checkOutputs(outputs, [{ file, what: 'the saved report' }]);
      const report = await readReportFile(file);
      await emitReport(report, { format: flags.format, outputs, color: useColor(flags.color) });
      process.exitCode = report.exitCode;
    });
}
