/**
 * The command registry: each command is one file exporting `register(program)`, and one line here.
 * The default command (`pushcheck [rulesets...]`) is `check`.
 */
import type { Command } from 'commander';

export type RegisterCommand = (program: Command) => void;

export const commands: Array<() => Promise<{ register: RegisterCommand }>> = [
  () => import('./check.js'),
  () => import('./rules.js'),
  () => import('./report.js'),
  () => import('./diff.js'),
  () => import('./harness.js'),
  () => import('./simulate.js'),
  () => import('./demo.js'),
  () => import('./serve.js'),
];
