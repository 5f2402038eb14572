import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import type { ResolvedTarget } from '../../../gateway/forward/forward-types.ts';
import type { ProviderConfig } from '../../../shared/config/config-schema.ts';
import { startFakeUpstream, type FakeProvider, type FakeUpstream } from '../../helpers/fake-upstreams/index.ts';
import { startTranslatingServer } from '../../helpers/translating-server.ts';

/** Runs a command with stdin closed (codex exec otherwise waits for more input on stdin). */
function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv; timeout: number }): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeout });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('close', () => resolve({ stdout, stderr }));
  });
}
const CODEX = fileURLToPath(new URL('../../../node_modules/.bin/codex', import.meta.url));
const PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n';

const CONFIGS: Partial<Record<FakeProvider, (url: string) => ProviderConfig>> = {
  anthropic: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
  gemini: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
  bedrock: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
  'openai-chat': (url) => ({ type: 'openai-chat', preset: 'vllm', base_url: `${url}/v1` }),
  'azure-openai': (url) => ({ type: 'azure-openai', base_url: url, api_key: 'sk_test', api_version: '2025-04-01-preview' }),
};

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

// The real Codex CLI against forwardTranslated: the upstream model answers apply_patch as a
// function call with {"input": …}; Codex must receive a custom_tool_call, apply the patch on disk,
// send the result back, and accept the final answer.
describe('Codex CLI 0.171 through the translation', () => {
  for (const provider of ['anthropic', 'gemini', 'bedrock', 'openai-chat', 'azure-openai'] as const) {
    it(`${provider}: applies a patch and finishes`, async () => {
      const upstream: FakeUpstream = await startFakeUpstream(provider, {
        script: [{ customToolCalls: [{ name: 'apply_patch', input: PATCH, id: 'call_patch_1' }], usage: { input: 9000, cached: 0, output: 30 } }, { text: 'Created hello.txt.', usage: { input: 9100, cached: 8000, output: 8 } }],
      });
      cleanups.push(() => upstream.close());
      const target = { model: 'gpt-5.5', upstreamModel: 'upstream-model', providerName: provider, provider: CONFIGS[provider]!(upstream.url), price: { input: 1, cached_input: 0.1, output: 2 } } as ResolvedTarget;
      const server = await startTranslatingServer(target);
      cleanups.push(() => server.close());
      const home = mkdtempSync(join(tmpdir(), 'gatehouse-codex-'));
      cleanups.push(() => rmSync(home, { recursive: true, force: true }));
      const work = join(home, 'work');
      mkdirSync(work);
      writeFileSync(
        join(home, 'config.toml'),
        `model = "gpt-5.5"\nmodel_provider = "gatehouse"\n[model_providers.gatehouse]\nname = "Gatehouse"\nbase_url = "${server.url}/v1"\nenv_key = "GATEHOUSE_KEY"\nwire_api = "responses"\nrequest_max_retries = 0\nstream_max_retries = 0\n`,
      );
      const result = await run(CODEX, ['exec', '--skip-git-repo-check', '--dangerously-bypass-approvals-and-sandbox', '-m', 'gpt-5.5', 'create hello.txt'], {
        cwd: work,
        env: { ...process.env, HOME: home, CODEX_HOME: home, GATEHOUSE_KEY: 'vk_test' },
        timeout: 60_000,
      });
      expect(existsSync(join(work, 'hello.txt')), `${result.stdout}\n${result.stderr}`).toBe(true);
      expect(readFileSync(join(work, 'hello.txt'), 'utf8')).toBe('hello world\n');
      expect(result.stdout).toContain('Created hello.txt.');
      expect(upstream.requests).toHaveLength(2);
      // Turn 2 carries the patch result back to the upstream as a tool result for the same call.
      expect(JSON.stringify(upstream.requests[1]!.body)).toContain('Success. Updated the following files');
      expect(server.outcomes.map((outcome) => outcome.toolCalls.map((call) => call.kind))).toEqual([['custom'], []]);
    }, 90_000);
  }
});
