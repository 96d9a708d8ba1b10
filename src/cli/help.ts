/**
 * How `panic-api --help` and `panic-api <command> --help` read: commander's Help, customised through
 * its own hooks (configureHelp), so the usage line and the option list come from what each command
 * declares. A command also carries one example line a user can copy.
 */
import { Command, type Help, type Option } from 'commander';
import { alignColumns } from './columns.ts';

/** A commander Command with an example; `.command()` makes these too (commander's createCommand hook). */
export class PanicCommand extends Command {
  exampleLine = '';

  example(line: string): this {
    this.exampleLine = line;
    return this;
  }

  override createCommand(name?: string): PanicCommand {
    return new PanicCommand(name);
  }
}

export const CLIENT_GROUP = 'Use a running API (API_BASE_URL, default http://localhost:8000):';

/** `--password <P>` reads `--password P` in help and usage lines. */
const term = (option: Option) => option.flags.replace(/<(.+?)>/, '$1');
const valueName = (option: Option) => option.flags.match(/<(.+?)>/)?.[1];
const declaredOptions = (cmd: Command) => cmd.options.filter((o) => !o.hidden);
const optionRows = (cmd: Command): string[][] => declaredOptions(cmd).map((o) => [term(o), o.description]);

/** A command's words after `panic-api`: `login`, or with its parents `sessions revoke`. */
export const commandPath = (cmd: Command): string =>
  cmd.parent?.parent ? `${commandPath(cmd.parent)} ${cmd.name()}` : cmd.name();

/** Every command under `cmd`, each followed by its own subcommands. */
export const commandsOf = (cmd: Command): PanicCommand[] =>
  (cmd.commands as PanicCommand[]).flatMap((c) => [c, ...commandsOf(c)]);

/** The command right under the program that `cmd` belongs to (itself, or its parent's). */
const topOf = (cmd: Command): Command => (cmd.parent?.parent ? topOf(cmd.parent) : cmd);

/** `login EMAIL [--password P] [--json]`: the arguments, then each option with its value's name. */
function usageOf(cmd: Command): string {
  const args = cmd.registeredArguments.map((a) => (a.required ? a.name() : `[${a.name()}]`));
  const options = declaredOptions(cmd).map((o) => `[${[o.long, valueName(o)].filter(Boolean).join(' ')}]`);
  return [commandPath(cmd), ...args, ...options].join(' ');
}

/** The usage line of the program or of one of its commands. */
export const usageLine = (cmd: Command): string =>
  cmd.parent ? `panic-api ${usageOf(cmd)}` : 'panic-api <command> [arguments] [options]';

/** The whole CLI: each group of commands, each command with its usage, summary, options and example. */
function programHelp(program: Command): string {
  const commands = program.commands as PanicCommand[];
  const lines = [`Usage: ${usageLine(program)}`, ''];
  for (const group of new Set(commands.map((c) => c.helpGroup()))) {
    lines.push(group);
    for (const c of commands.filter((c) => c.helpGroup() === group).flatMap((c) => [c, ...commandsOf(c)])) {
      lines.push(`  ${usageOf(c)}`, `      ${c.description()}`);
      lines.push(...alignColumns(optionRows(c), { indent: '      ' }).lines);
      lines.push(`      example: ${c.exampleLine}`);
    }
    lines.push('');
  }
  lines.push(
    'Every command also takes -h, --help. Configuration comes from the environment and from .env in the working directory (see .env.example and README.md).',
    'Exit codes: 0 success, 1 failure (one sentence on stderr), 2 wrong arguments.',
  );
  return `${lines.join('\n')}\n`;
}

function commandHelp(cmd: PanicCommand, helper: Help): string {
  const lines = [`Usage: ${usageLine(cmd)}`, '', cmd.description()];
  if (topOf(cmd).helpGroup() === CLIENT_GROUP)
    lines.push('Talks to the API at API_BASE_URL (default http://localhost:8000).');
  const help = helper.visibleOptions(cmd).find((o) => o.long === '--help');
  const rows = [...optionRows(cmd), ...(help ? [[term(help), help.description]] : [])];
  lines.push('', 'Options:', ...alignColumns(rows, { indent: '  ' }).lines);
  const subcommands = commandsOf(cmd).map((c) => [`panic-api ${usageOf(c)}`, c.description()]);
  if (subcommands.length) lines.push('', 'Commands:', ...alignColumns(subcommands, { indent: '  ' }).lines);
  lines.push('', 'Example:', `  ${cmd.exampleLine}`);
  return `${lines.join('\n')}\n`;
}

/** For `program.configureHelp()`: commander calls it for the program and, inherited, for each command. */
export function formatHelp(cmd: Command, helper: Help): string {
  return cmd.parent ? commandHelp(cmd as PanicCommand, helper) : programHelp(cmd);
}
