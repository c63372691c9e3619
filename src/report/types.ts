import type { Report } from '../types.js';

export interface RenderOptions {
  /** ANSI colour; the CLI decides (TTY, NO_COLOR, FORCE_COLOR). Renderers never look at the terminal. */
  color: boolean;
  /** Width of the terminal the text is shown on, when known; layouts that wrap fit it. 0 or absurd: unknown. */
  columns?: number;
}

/** An output format: a pure function from a report to text. Writing it somewhere is the CLI's job. */
export interface ReportFormat {
  name: string;
  description: string;
  render(report: Report, options: RenderOptions): string;
}
