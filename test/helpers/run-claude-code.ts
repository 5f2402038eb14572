import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * The pinned CLI's native binary. The package's postinstall (which copies it over the
 * `node_modules/.bin/claude` placeholder) is not in package.json's `allowScripts`, so the binary is
 * taken from the platform package npm installed beside it, as the package's own cli-wrapper.cjs does.
 */
function claudeBinary(): string {
  const require = createRequire(import.meta.url);
  for (const suffix of [`${process.platform}-${process.arch}`, `${process.platform}-${process.arch}-musl`]) {
    try {
      const candidate = join(dirname(require.resolve(`@anthropic-ai/claude-code-${suffix}/package.json`)), 'claude');
      if (existsSync(candidate)) return candidate;
    } catch {
      // Not this platform's package: try the next.
    }
  }
  return join(process.cwd(), 'node_modules', '.bin', 'claude');
}

const CLAUDE_BIN = claudeBinary();

export interface ClaudeCodeRun {
  stdout: string;
  stderr: string;
  code: number | null;
  millis: number;
  /** `--output-format json`'s result object, when stdout held one. */
  result: { result?: string; session_id?: string; is_error?: boolean; num_turns?: number; api_error_status?: number | null; [key: string]: unknown } | undefined;
}

/**
 * Runs the real Claude Code CLI headless (`claude -p … --output-format json`) against a gateway,
 * with a throwaway HOME and everything but the model traffic off. As root it refuses
 * `--dangerously-skip-permissions` unless IS_SANDBOX=1. stdin is closed so `-p` does not wait on it.
 */
export async function runClaudeCode(options: { gatewayUrl: string; workdir: string; prompt: string; model?: string; key: string; timeoutMillis?: number; extraEnvironment?: Record<string, string> }): Promise<ClaudeCodeRun> {
  const home = mkdtempSync(join(tmpdir(), 'claude-home-'));
  const started = Date.now();
  try {
    return await new Promise<ClaudeCodeRun>((resolve) => {
      const child = spawn(CLAUDE_BIN, ['-p', options.prompt, '--output-format', 'json', '--model', options.model ?? 'claude-sonnet-4-5', '--dangerously-skip-permissions'], {
        cwd: options.workdir,
        env: {
          PATH: process.env.PATH,
          HOME: home,
          IS_SANDBOX: '1',
          ANTHROPIC_BASE_URL: options.gatewayUrl,
          ANTHROPIC_API_KEY: options.key,
          DISABLE_TELEMETRY: '1',
          DISABLE_ERROR_REPORTING: '1',
          DISABLE_AUTOUPDATER: '1',
          DISABLE_BUG_COMMAND: '1',
          DISABLE_NON_ESSENTIAL_MODEL_CALLS: '1',
          CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
          NO_COLOR: '1',
          ...options.extraEnvironment,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMillis ?? 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        let result: ClaudeCodeRun['result'];
        try {
          result = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as ClaudeCodeRun['result'];
        } catch {
          result = undefined;
        }
        resolve({ stdout, stderr, code, millis: Date.now() - started, result });
      });
    });
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
