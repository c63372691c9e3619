import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandFor, commands, defaultCommand } from '../../src/cli/commands.js';
import { runCli } from '../helpers/cli.js';
import { nonEmpty } from '../helpers/non-empty.js';

describe('command registry', () => {
  it.each(commands.map((entry) => [entry.name, entry] as const))('%s: the registry line agrees with the command it loads', async (name, entry) => {
    const program = new Command('pushcheck');
    (await entry.load()).register(program);
    const registered = program.commands.find((c) => c.name() === name);
    expect(registered, `${name} registers a command of that name`).toBeDefined();
    expect(entry.description).toBe(registered!.description());
    expect(`${name}${entry.synopsis ? ` ${entry.synopsis}` : ''}`).toBe(new Help().subcommandTerm(registered!));
  });

  it('names each command once', () => {
    const names = commands.map((c) => c.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it('loads only the command the arguments name, the default one for rule set names, none for help and version', () => {
    expect(commandFor(['rules', 'list'])?.name).toBe('rules');
    expect(commandFor(['help', 'diff'])?.name).toBe('diff');
    expect(commandFor(['ios', '-f', 'json'])).toBe(defaultCommand);
    expect(commandFor(['-f', 'json', 'ios'])).toBe(defaultCommand);
    expect(commandFor([])).toBeUndefined();
    for (const flag of ['--help', '-h', '--version', '-V']) expect(commandFor([flag])).toBeUndefined();
    expect(commandFor(['help'])).toBeUndefined();
  });

  it('pushcheck --help lists every command from the registry', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    for (const entry of nonEmpty(commands, 'the command registry')) expect(run.stdout).toMatch(new RegExp(`^  ${entry.name}\\b`, 'm'));
    expect(run.stdout).toMatch(/^ {2}help \[command\]/m);
  });
});
