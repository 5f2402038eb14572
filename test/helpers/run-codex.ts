import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CODEX_BIN = join(process.cwd(), 'node_modules', '.bin', 'codex');
/** Codex refuses to set up its helper binaries under /tmp, so its homes live in the repo (gitignored). */
const HOMES_ROOT = join(process.cwd(), '.test-tmp');

export interface CodexRun {
  stdout: string;
  stderr: string;
  code: number | null;
  millis: number;
}

/**
 * Runs the real Codex CLI (`codex exec`) against a gateway with a throwaway HOME/CODEX_HOME.
 * stdin is closed: `codex exec` otherwise waits for more prompt text on it.
 */
export async function runCodex(options: { gatewayUrl: string; workdir: string; prompt: string; model?: string; key: string; timeoutMillis?: number }): Promise<CodexRun> {
  mkdirSync(HOMES_ROOT, { recursive: true });
  const home = mkdtempSync(join(HOMES_ROOT, 'codex-home-'));
  const codexHome = join(home, '.codex');
  mkdirSync(codexHome, { recursive: true });
  const model = options.model ?? 'gpt-5.5';
  writeFileSync(
    join(codexHome, 'config.toml'),
    `model = "${model}"\nmodel_provider = "gatehouse"\n\n[model_providers.gatehouse]\nname = "Gatehouse"\nbase_url = "${options.gatewayUrl}/v1"\nenv_key = "GATEHOUSE_KEY"\nwire_api = "responses"\n`,
  );
  const started = Date.now();
  try {
    return await new Promise<CodexRun>((resolve) => {
      const child = spawn(CODEX_BIN, ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-m', model, options.prompt], {
        cwd: options.workdir,
        env: { PATH: process.env.PATH, HOME: home, CODEX_HOME: codexHome, GATEHOUSE_KEY: options.key, NO_COLOR: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMillis ?? 90_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, code, millis: Date.now() - started });
      });
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
