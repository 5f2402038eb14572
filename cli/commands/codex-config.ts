import type { Command } from 'commander';
import { CliError, type CliIo } from '../cli-io.ts';
import { configuredGatewayUrl } from '../configured-url.ts';

/** The Codex CLI `config.toml` block that routes Codex through this gateway. */
export function codexConfigBlock(url: string, model: string): string {
  return `# ~/.codex/config.toml  (or $CODEX_HOME/config.toml)
model = "${model}"
model_provider = "gatehouse"

[model_providers.gatehouse]
name = "Gatehouse"
base_url = "${url.replace(/\/+$/, '')}/v1"
env_key = "GATEHOUSE_KEY"
wire_api = "responses"
`;
}

interface CodexConfigOptions {
  key: string;
  url?: string;
  config?: string;
  model: string;
}

/** `gatehouse codex-config --key KEY`: the block for this gateway, its address read from the config. */
export function registerCodexConfigCommand(program: Command, io: CliIo): void {
  program
    .command('codex-config')
    .description('print the Codex CLI config.toml block for this gateway')
    .requiredOption('--key <key>', 'the developer\'s virtual key (npx gatehouse keys create …)')
    .option('--url <url>', 'gateway URL as the developer reaches it (default: GATEHOUSE_URL, else server.host and server.port of the config)')
    .option('--config <file>', 'deployment config to read server.host and server.port from (default: GATEHOUSE_CONFIG, ./gatehouse.yaml, then gatehouse.example.yaml)')
    .option('--model <model>', 'model Codex asks for', 'gpt-5.5')
    .action((options: CodexConfigOptions) => {
      if (options.url !== undefined && options.config !== undefined) throw new CliError('choose one of --url and --config');
      const url = options.url ?? (options.config === undefined ? process.env.GATEHOUSE_URL : undefined) ?? configuredGatewayUrl(options.config);
      io.out(codexConfigBlock(url, options.model));
      io.out(`# then, in your shell:\nexport GATEHOUSE_KEY=${options.key}\ncodex`);
    });
}
