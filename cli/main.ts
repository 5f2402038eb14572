import { Command, CommanderError, type Option } from 'commander';
import { ConfigError } from '../shared/config/load-config.ts';
import { CheckFailed, CliError, EXIT, processIo, withErrorPrefix, type CliIo } from './cli-io.ts';
import { registerStartCommands } from './commands/start.ts';
import { registerCodexConfigCommand } from './commands/codex-config.ts';
import { registerKeysCommand } from './commands/keys.ts';
import { registerPolicyCommand } from './commands/policy.ts';
import { registerApproverCommand } from './commands/approver.ts';
import { registerOptimizeCommand } from './commands/optimize.ts';
import { registerAuditCommand } from './commands/audit.ts';
import { registerReportCommand } from './commands/report.ts';
import { registerSqlCommand } from './commands/sql.ts';
import { registerModelsCommand } from './commands/models.ts';
import { GATEHOUSE_VERSION } from '../shared/version.ts';

/**
 * Every command of `npx gatehouse`, in the order the help lists them. One file per command under
 * cli/commands/ exports `register…(program, io)`; a new command adds its file and one line here
 * (cli/README.md).
 */
const COMMANDS: ((program: Command, io: CliIo) => void)[] = [
  registerStartCommands,
  registerCodexConfigCommand,
  registerKeysCommand,
  registerModelsCommand,
  registerPolicyCommand,
  registerApproverCommand,
  registerOptimizeCommand,
  registerAuditCommand,
  registerReportCommand,
  registerSqlCommand,
];

/** Options most admin commands share; named once at the end of the help instead of on every line. */
const COMMON_OPTIONS = new Set(['--url', '--token', '--json', '--csv', '--help']);

export const VERSION = GATEHOUSE_VERSION;

export function buildProgram(io: CliIo): Command {
  const program = new Command('gatehouse')
    .description('Gatehouse — self-hosted AI gateway for coding agents')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .helpOption('-h, --help', 'show help for a command (no side effects)')
    .helpCommand('help [command]', 'show help for a command')
    // Subcommand options may reuse root names (`policy show --version N`): root options only before the command.
    .enablePositionalOptions()
    .showHelpAfterError('(add --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.out(text),
      writeErr: (text) => io.error(text),
      outputError: (text, write) => write(withErrorPrefix(text.replace(/^error:\s*/, ''))),
    });
  for (const register of COMMANDS) register(program, io);
  program.addHelpText('after', () => `\nEvery command:\n${commandOverview(program)}\n
Commands that act on a running gateway take --url URL and --token TOKEN (or GATEHOUSE_URL, GATEHOUSE_TOKEN);
listings take --json or --csv for scripts. Exit codes: 0 ok, 1 a request or check failed, 2 usage error.`);
  return program;
}

/** One line per runnable command with its own options, generated from what is registered. */
function commandOverview(program: Command): string {
  const lines: string[] = [];
  const walk = (command: Command, path: string[]) => {
    const subcommands = command.commands.filter((sub) => sub.name() !== 'help');
    if (subcommands.length === 0 || command.registeredArguments.length > 0) lines.push(overviewLine(command, path));
    for (const sub of subcommands) walk(sub, [...path, sub.name()]);
  };
  for (const command of program.commands) walk(command, [command.name()]);
  return lines.join('\n');
}

function overviewLine(command: Command, path: string[]): string {
  const args = command.registeredArguments.map((argument) => {
    const name = `${argument.name().toUpperCase()}${argument.variadic ? '…' : ''}`;
    return argument.required ? name : `[${name}]`;
  });
  const options = command.options.filter((option) => !COMMON_OPTIONS.has(option.long ?? '')).map(optionUsage);
  return `  gatehouse ${[...path, ...args, ...options].join(' ')}`;
}

function optionUsage(option: Option): string {
  const value = option.required || option.optional ? ` ${option.flags.replace(/^.*?[<[]/, '').replace(/[>\]]$/, '').toUpperCase()}` : '';
  const text = `${option.long}${value}`;
  return option.mandatory ? text : `[${text}]`;
}

/** Runs `gatehouse …` (argv without node and the script) and returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT.ok;
  } catch (error) {
    return reportError(error, io);
  }
}

function reportError(error: unknown, io: CliIo): number {
  if (error instanceof CommanderError) {
    // Commander has printed the message (or the help, or the version); help and version are not errors.
    return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (error instanceof ConfigError) {
    io.error(withErrorPrefix(`invalid configuration\n${error.message}`));
    return EXIT.failed;
  }
  const message = error instanceof Error ? error.message : String(error);
  if (!(error instanceof CheckFailed)) io.error(withErrorPrefix(message));
  if (error instanceof CliError) return EXIT.usage;
  if (process.env.GATEHOUSE_DEBUG && error instanceof Error && error.stack) io.error(error.stack);
  // Errors that carry their exit code (the data dir lock, request failures) are one line meant for the user.
  const exitCode = (error as { exitCode?: unknown }).exitCode;
  return typeof exitCode === 'number' ? exitCode : EXIT.failed;
}
