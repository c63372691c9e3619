import { Command, Help } from 'commander';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { commandFor, commands, defaultCommand } from '../../src/cli/commands.js';
import { start } from '../../src/cli/start.js';
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

  it('marks the commands with a bundle of their own: the build makes dist/bundle/<name>.cjs for those alone, and start.ts runs it', async () => {
    const bundled = commands.filter((c) => c.bundled).map((c) => c.name);
    expect(bundled).toEqual(expect.arrayContaining(['check', 'rules']));
    for (const { name } of commands) {
      expect(existsSync(fileURLToPath(new URL(`../../dist/bundle/${name}.cjs`, import.meta.url))), `${name}.cjs`).toBe(bundled.includes(name));
      const loaded: string[] = [];
      const loaders = { program: () => expect.unreachable(), command: (bundle: string) => loaded.push(bundle), main: async () => loaded.push('main.js') };
      await start(['node', 'pushcheck', name, '--help'], loaders);
      expect(loaded, name).toEqual([bundled.includes(name) ? name : 'main.js']);
    }
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
