/** Every report format, loaded: for tests that render in several (the registry loads each when asked: src/report/index.ts). */
import { formatNames, loadFormat, type ReportFormat } from '../../src/report/index.js';

export const formats: ReadonlyMap<string, ReportFormat> = new Map(await Promise.all(formatNames.map(async (name) => [name, await loadFormat(name)] as const)));
