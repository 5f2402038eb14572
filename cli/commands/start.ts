import { relative } from 'node:path';
import type { Command } from 'commander';
import { CliError, type CliIo } from '../cli-io.ts';
import { codexConfigBlock } from './codex-config.ts';
import { describeBootstrapDrift } from '../../shared/governance/bootstrap-drift.ts';
import type { RunningGatehouse } from '../start-gatehouse.ts';

type Role = 'gateway' | 'collector' | 'evaluator' | 'optimizer';

interface StartOptions {
  config?: string;
  port?: string;
  host?: string;
  dataDir?: string;
}

const ROLES: Record<Role, string> = {
  gateway: 'the gateway role only (distributed mode)',
  collector: 'the collector role only (distributed mode)',
  evaluator: 'the evaluator role only (distributed mode)',
  optimizer: 'the optimizer role only (distributed mode)',
};

/** `start` (every role in one process) and one command per role for distributed mode. */
export function registerStartCommands(program: Command, io: CliIo): void {
  const commands: [string, string][] = [['start', 'every role in one process, embedded ClickHouse and state (the quick start)'], ...Object.entries(ROLES)];
  for (const [name, description] of commands) {
    program
      .command(name)
      .description(description)
      .option('--config <file>', 'deployment config (default: GATEHOUSE_CONFIG, ./gatehouse.yaml, then gatehouse.example.yaml)')
      .option('--port <n>', 'listen port (overrides server.port)')
      .option('--host <address>', 'listen address (overrides server.host)')
      .option('--data-dir <dir>', 'data directory (overrides data_dir)')
      .action((options: StartOptions) => runStart(name as 'start' | Role, options, io));
  }
}

async function runStart(role: 'start' | Role, options: StartOptions, io: CliIo): Promise<void> {
  const port = options.port === undefined ? undefined : Number(options.port);
  if (port !== undefined && !(Number.isInteger(port) && port >= 0 && port <= 65535)) throw new CliError(`--port must be a port number (0-65535), got "${options.port}"`);
  // Loaded here, not at the top: the whole gateway is not needed to print help or run `keys list`.
  const { startGatehouse } = await import('../start-gatehouse.ts');
  const running = await startGatehouse({
    configFile: options.config,
    port,
    host: options.host,
    dataDir: options.dataDir,
    roles: role === 'start' ? ['gateway', 'collector', 'evaluator', 'optimizer'] : [role],
  });
  const policy = running.context.policy.current();
  await reportBootstrapDrift(running, io);
  // A placeholder, never a key: start output lands in terminals, CI logs and screen shares.
  const keyHint = running.bootstrapPolicy.keys.some((key) => key.key)
    ? `# the demo keys are in the policy file; your own: npx gatehouse keys create --developer YOU --cost-center CENTER`
    : `# a virtual key: npx gatehouse keys create --developer YOU --cost-center CENTER`;
  io.out(`\nGatehouse (${running.roles.join(' + ')}) listening on ${running.url}  ·  policy v${policy.version}  ·  data in ${running.config.data_dir}`);
  if (running.roles.includes('gateway')) {
    io.out(`\nPoint Codex CLI at it:\n`);
    io.out(codexConfigBlock(running.url, Object.keys(running.bootstrapPolicy.models)[0] ?? 'gpt-5.5'));
    io.out(`export GATEHOUSE_KEY=<your virtual key>   ${keyHint}\ncodex "…"\n`);
    io.out(`Health ${running.url}/readyz · metrics ${running.url}/metrics · console ${running.url}/console`);
  }
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      io.out(`\n${signal}: draining in-flight requests and flushing spans…`);
      // The process ends whatever the embedded engine is doing: a native call that cannot be interrupted
      // must not keep it alive past the drain timeout (close() kills analyst queries and flushes first).
      setTimeout(() => {
        io.error(`gatehouse: shutdown did not finish within server.drain_timeout_ms + 10 s; exiting`);
        process.exit(1);
      }, running.config.server.drain_timeout_ms + 10_000).unref();
      void running.close().then(resolve, (error: unknown) => {
        io.error(`gatehouse: shutdown error: ${(error as Error).message}`);
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  io.out('stopped.');
  // Everything is flushed and closed; an engine thread still finishing a cancelled query must not hold the exit.
  setTimeout(() => process.exit(process.exitCode ?? 0), 2_000).unref();
}

/** Says so at start when the bootstrap policy file is not what is served (it is read only on a fresh data dir). */
async function reportBootstrapDrift(running: RunningGatehouse, io: CliIo): Promise<void> {
  const store = running.governance.store;
  const served = store.current();
  const drift = describeBootstrapDrift({
    file: relative(process.cwd(), running.policyFile) || running.policyFile,
    bootstrap: running.bootstrapPolicy,
    served: { version: served.version, document: served.document },
    versions: (await store.versions()).map((row) => ({ version: row.version, document: row.document })),
  });
  if (drift) io.error(`gatehouse: ${drift.level}: ${drift.message}`);
}
