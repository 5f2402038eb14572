import { ConfigError } from '../shared/config/load-config.ts';
import { CliError, processIo, type CliIo } from './cli-io.ts';
import { runKeysCommand } from './commands/keys.ts';
import { runSqlCommand } from './commands/sql.ts';
import { runCodexConfigCommand } from './commands/codex-config.ts';
import { runStartCommand } from './commands/start.ts';

type Command = (argv: string[], io: CliIo) => Promise<number | void>;

/** Commands other modules provide; loaded lazily so a missing optional piece names itself. */
const LAZY_COMMANDS: Record<string, () => Promise<Command>> = {
  policy: async () => (await import('./commands/policy.ts')).runPolicyCommand as Command,
  audit: async () => (await import('./commands/audit.ts')).runAuditCommand as Command,
  report: async () => (await import('./commands/report.ts')).runReportCommand as Command,
  optimize: async () => (await import('./commands/optimize.ts')).runOptimizeCommand as Command,
};

const USAGE = `gatehouse — AI gateway for coding agents

  npx gatehouse start [--config FILE] [--port N] [--data-dir DIR]   all roles in one process (embedded)
  npx gatehouse gateway|collector|evaluator|optimizer [--config FILE] one role (distributed mode)
  npx gatehouse codex-config --key KEY [--url URL] [--model M]       Codex CLI config.toml block
  npx gatehouse keys create --developer D --cost-center C [--repo R] | list | revoke ID
  npx gatehouse policy show|propose|diff|approve|reject|history
  npx gatehouse optimize [--cost-center C] [--dry-run]
  npx gatehouse audit export|verify
  npx gatehouse report cache [--below 0.5]
  npx gatehouse sql "SELECT …"

Commands that act on a running gateway use --url/--token or GATEHOUSE_URL/GATEHOUSE_TOKEN.`;

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return command === undefined ? 1 : 0;
      case 'start':
      case 'gateway':
      case 'collector':
      case 'evaluator':
      case 'optimizer':
        return (await runStartCommand(command, rest, io)) ?? 0;
      case 'keys':
        return (await runKeysCommand(rest, io)) ?? 0;
      case 'sql':
        return (await runSqlCommand(rest, io)) ?? 0;
      case 'codex-config':
        return (await runCodexConfigCommand(rest, io)) ?? 0;
      default: {
        const load = LAZY_COMMANDS[command];
        if (!load) {
          io.error(`unknown command "${command}"\n\n${USAGE}`);
          return 2;
        }
        return (await (await load())(rest, io)) ?? 0;
      }
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      io.error(`gatehouse: invalid configuration\n${error.message}`);
      return 1;
    }
    if (error instanceof CliError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.error(`gatehouse: ${(error as Error).message}`);
      return 2;
    }
    // Errors that carry their exit code (the data dir lock) are one line meant for the user, not a stack trace.
    if (typeof (error as { exitCode?: unknown }).exitCode === 'number') {
      io.error(`gatehouse: ${(error as Error).message}`);
      return (error as { exitCode: number }).exitCode;
    }
    throw error;
  }
}
