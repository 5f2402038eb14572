import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { drainPending } from 'chdb';
import { startFakeUpstream, type FakeProvider, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { runClaudeCode } from '../helpers/run-claude-code.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

const PROVIDERS: Record<'anthropic' | 'openai' | 'gemini' | 'bedrock', (url: string) => Record<string, unknown>> = {
  anthropic: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
  openai: (url) => ({ type: 'openai', base_url: url, api_key: 'sk_test' }),
  gemini: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
  bedrock: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
};

/** Claude Code asks for the model by its Claude name; the policy decides who serves it. */
function policyFor(provider: string) {
  return {
    models: { 'claude-sonnet-4-5': { provider, upstream: provider === 'anthropic' ? 'claude-sonnet-4-5' : `${provider}-large`, price: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } } },
    cost_centers: { platform: { allowed_models: ['claude-sonnet-4-5'] } },
    keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
  };
}

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('the real Claude Code CLI through Gatehouse (/v1/messages) to four kinds of upstream', () => {
  for (const provider of Object.keys(PROVIDERS) as (keyof typeof PROVIDERS)[]) {
    it(`${provider}: Write and Bash round-trip, final answer, spans with tokens and cost under one session`, async () => {
      const workdir = mkdtempSync(join(tmpdir(), `claude-${provider}-`));
      cleanups.push(() => rmSync(workdir, { recursive: true, force: true }));
      const upstream: FakeUpstream = await startFakeUpstream(provider as FakeProvider, {
        script: [
          { toolCalls: [{ name: 'Write', arguments: { file_path: join(workdir, 'hello.txt'), content: 'hello world\n' }, id: 'toolu_write_1' }], usage: { input: 9000, cached: 0, output: 30 } },
          { toolCalls: [{ name: 'Bash', arguments: { command: 'cat hello.txt > seen.txt && echo ran-by-claude', description: 'Copy the file' }, id: 'toolu_bash_1' }], usage: { input: 9200, cached: 8000, output: 20 } },
          { text: `Done through ${provider}.`, usage: { input: 9400, cached: 9000, output: 8 } },
        ],
      });
      cleanups.push(() => upstream.close());
      const gatehouse: TestGatehouse = await startTestGatehouse({ providers: { [provider]: PROVIDERS[provider](upstream.url) }, policy: policyFor(provider) });
      cleanups.push(async () => {
        await gatehouse.stop();
        // chDB binds one data directory per process: the next test's gatehouse opens another only once
        // every query of this one (spans still being flushed) has finished.
        await drainPending();
      });

      const run = await runClaudeCode({ gatewayUrl: gatehouse.url, workdir, prompt: 'create hello.txt and copy it to seen.txt', key: TEST_KEY });
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(readFileSync(join(workdir, 'hello.txt'), 'utf8')).toBe('hello world\n');
      expect(existsSync(join(workdir, 'seen.txt'))).toBe(true);
      expect(readFileSync(join(workdir, 'seen.txt'), 'utf8')).toBe('hello world\n');
      expect(run.result?.is_error).toBe(false);
      expect(run.result?.result).toBe(`Done through ${provider}.`);
      expect(upstream.requests).toHaveLength(3);
      // The file write and the command's output travel back as results of the same tool calls.
      expect(JSON.stringify(upstream.requests[1]?.body)).toContain('File created successfully');
      expect(JSON.stringify(upstream.requests[2]?.body)).toContain('ran-by-claude');
      for (const request of upstream.requests) expect(JSON.stringify(request.headers)).not.toContain(TEST_KEY);
      if (provider === 'anthropic') {
        for (const request of upstream.requests) {
          expect(request.url).toBe('/v1/messages?beta=true');
          expect(request.headers['x-api-key']).toBe('sk_test');
          expect(request.headers['anthropic-beta']).toContain('claude-code-');
        }
      }

      const sessionId = String(run.result?.session_id);
      expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const rows = await waitForRows<Record<string, unknown>>(
        gatehouse,
        `SELECT session_id, turn_id, provider, provider_type, served_model, inbound_protocol, input_tokens, cached_input_tokens, output_tokens, cost_usd, status_code, tool_call_count, client FROM gatehouse.spans ORDER BY ts`,
        3,
      );
      expect(rows).toHaveLength(3);
      // One Claude Code session is one Gatehouse session: its id from x-claude-code-session-id.
      expect(new Set(rows.map((row) => row.session_id))).toEqual(new Set([sessionId]));
      expect(new Set(rows.map((row) => row.turn_id)).size).toBe(3);
      for (const row of rows) {
        expect(row).toMatchObject({ provider, provider_type: provider, served_model: 'claude-sonnet-4-5', inbound_protocol: 'anthropic-messages', status_code: 200 });
        expect(String(row.client)).toContain('claude-cli/2.1.332');
      }
      // OpenAI's convention on spans: input includes cached.
      expect(rows.map((row) => [row.input_tokens, row.cached_input_tokens, row.output_tokens])).toEqual([
        [9000, 0, 30],
        [9200, 8000, 20],
        [9400, 9000, 8],
      ]);
      expect(Number(rows[1]?.cost_usd)).toBeCloseTo((1200 * 3 + 8000 * 0.3 + 20 * 15) / 1e6, 9);
      expect(rows.map((row) => row.tool_call_count)).toEqual([1, 1, 0]);
      // Three model turns of a ~400 MB native client take 25-35 s on a loaded 2-core machine.
    }, 150_000);
  }
});
