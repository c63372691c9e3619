/**
 * pushcheck as a library (`import … from 'pushcheck'`): load rule sets, run the checks, render the report.
 * The harness is its own entry point, `pushcheck/harness`.
 */
export { runChecks } from './run/run.js';
export type { CheckSettings, RunHooks } from './run/run.js';
export { checkSettings } from './run/settings.js';
export { loadBuiltinRuleSets, resolveRuleSets } from './rules/builtin.js';
export { loadRuleSetFile, parseRuleSet } from './rules/load.js';
export { findingsOf } from './findings/index.js';
export { formatNames, loadFormat } from './report/index.js';
export type { ReportFormat, RenderOptions } from './report/index.js';
export type {
  CheckKind,
  Failure,
  FailureCode,
  Finding,
  FindingCause,
  FindingSeverity,
  Phase,
  Report,
  Result,
  Rule,
  RuleSet,
  RuleSummary,
  RunOptions,
  Severity,
  Status,
  Summary,
  Target,
  Timings,
} from './types.js';
