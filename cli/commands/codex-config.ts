import { parse, CliError, type CliIo } from '../cli-io.ts';

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

export async function runCodexConfigCommand(argv: string[], io: CliIo): Promise<number> {
  const { values } = parse(argv, { key: { type: 'string' }, url: { type: 'string' }, model: { type: 'string' } });
  if (!values.key) throw new CliError('usage: gatehouse codex-config --key KEY [--url http://127.0.0.1:8787] [--model gpt-5.5]');
  const url = values.url ?? process.env.GATEHOUSE_URL ?? 'http://127.0.0.1:8787';
  io.out(codexConfigBlock(url, values.model ?? 'gpt-5.5'));
  io.out(`# then, in your shell:\nexport GATEHOUSE_KEY=${values.key}\ncodex`);
  return 0;
}
