import { afterEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeUpstream, type FakeProvider, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { runCodex } from '../helpers/run-codex.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

const PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n';

const PROVIDERS: Record<'anthropic' | 'gemini' | 'bedrock', (url: string) => Record<string, unknown>> = {
  anthropic: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
  gemini: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
  bedrock: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
};

function policyFor(provider: string) {
  return {
    models: { 'gpt-5.5': { provider, upstream: `${provider}-large`, price: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } } },
    cost_centers: { platform: { allowed_models: ['gpt-5.5'] } },
    keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
  };
}

let cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
  cleanups = [];
});

describe('the real Codex CLI through Gatehouse to non-OpenAI upstreams', () => {
  for (const provider of Object.keys(PROVIDERS) as (keyof typeof PROVIDERS)[]) {
    it(`${provider}: apply_patch and exec_command round-trip, final answer, spans with normalised tokens`, async () => {
      const upstream: FakeUpstream = await startFakeUpstream(provider as FakeProvider, {
        script: [
          { customToolCalls: [{ name: 'apply_patch', input: PATCH, id: 'call_patch_1' }], usage: { input: 9000, cached: 0, output: 30 } },
          { toolCalls: [{ name: 'exec_command', arguments: { cmd: 'cat hello.txt > seen.txt' }, id: 'call_exec_1' }], usage: { input: 9200, cached: 8000, output: 20 } },
          { text: `Done through ${provider}.`, usage: { input: 9400, cached: 9000, output: 8 } },
        ],
      });
      cleanups.push(() => upstream.close());
      const gatehouse: TestGatehouse = await startTestGatehouse({ providers: { [provider]: PROVIDERS[provider](upstream.url) }, policy: policyFor(provider) });
      cleanups.push(() => gatehouse.stop());
      const workdir = mkdtempSync(join(tmpdir(), `codex-${provider}-`));
      cleanups.push(() => rmSync(workdir, { recursive: true, force: true }));

      const result = await runCodex({ gatewayUrl: gatehouse.url, workdir, prompt: 'create hello.txt', key: TEST_KEY });
      expect(readFileSync(join(workdir, 'hello.txt'), 'utf8'), result.stderr).toBe('hello world\n');
      expect(existsSync(join(workdir, 'seen.txt'))).toBe(true);
      expect(readFileSync(join(workdir, 'seen.txt'), 'utf8')).toBe('hello world\n');
      expect(result.stdout).toContain(`Done through ${provider}.`);
      expect(result.code).toBe(0);
      expect(upstream.requests).toHaveLength(3);
      // The patch result and the command output travel back as tool results of the same calls.
      expect(JSON.stringify(upstream.requests[1]?.body)).toContain('Success. Updated the following files');
      expect(JSON.stringify(upstream.requests[2]?.body)).toContain('Process exited with code 0');

      const rows = await waitForRows<Record<string, unknown>>(
        gatehouse,
        `SELECT provider, provider_type, served_model, input_tokens, cached_input_tokens, output_tokens, cost_usd, status_code, tool_call_count FROM gatehouse.spans ORDER BY turn_seq`,
        3,
      );
      expect(rows).toHaveLength(3);
      for (const row of rows) expect(row).toMatchObject({ provider, provider_type: provider, served_model: 'gpt-5.5', status_code: 200 });
      // OpenAI's convention: input includes cached (Anthropic and Bedrock report them apart).
      expect(rows.map((row) => [row.input_tokens, row.cached_input_tokens, row.output_tokens])).toEqual([
        [9000, 0, 30],
        [9200, 8000, 20],
        [9400, 9000, 8],
      ]);
      expect(Number(rows[1]?.cost_usd)).toBeCloseTo((1200 * 3 + 8000 * 0.3 + 20 * 15) / 1e6, 9);
      expect(rows.map((row) => row.tool_call_count)).toEqual([1, 1, 0]);
    });
  }
});

describe('an Anthropic Messages client served by an OpenAI upstream', () => {
  it('gets text and tool calls back in the Anthropic shape, streaming and not', async () => {
    const upstream = await startFakeUpstream('openai', {
      script: [
        { toolCalls: [{ name: 'get_weather', arguments: { city: 'Oslo' }, id: 'call_w1' }], usage: { input: 200, cached: 100, output: 12 } },
        { text: 'It is 3°C in Oslo.', usage: { input: 260, cached: 200, output: 9 } },
      ],
    });
    cleanups.push(() => upstream.close());
    const gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } } });
    cleanups.push(() => gatehouse.stop());
    const client = new Anthropic({ apiKey: TEST_KEY, baseURL: gatehouse.url, maxRetries: 0 });
    const tools = [{ name: 'get_weather', description: 'weather by city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } }];

    const first = await client.messages.create({ model: 'gpt-5.5', max_tokens: 256, tools, messages: [{ role: 'user', content: 'Weather in Oslo?' }] });
    expect(first.stop_reason).toBe('tool_use');
    const toolUse = first.content.find((block) => block.type === 'tool_use');
    expect(toolUse).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { city: 'Oslo' } });
    // Anthropic's convention: input_tokens excludes cache reads.
    expect(first.usage).toMatchObject({ input_tokens: 100, cache_read_input_tokens: 100, output_tokens: 12 });

    const stream = client.messages.stream({
      model: 'gpt-5.5',
      max_tokens: 256,
      tools,
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: (toolUse as { id: string }).id, content: '3°C' }] },
      ],
    });
    const final = await stream.finalMessage();
    expect(final.content).toEqual([expect.objectContaining({ type: 'text', text: 'It is 3°C in Oslo.' })]);
    // The tool result reached the OpenAI upstream as a function_call_output of the same call.
    expect(JSON.stringify(upstream.requests[1]?.body)).toContain('function_call_output');
    expect(JSON.stringify(upstream.requests[1]?.body)).toContain('call_w1');
    const rows = await waitForRows<{ inbound_protocol: string; provider: string }>(gatehouse, `SELECT inbound_protocol, provider FROM gatehouse.spans`, 2);
    expect(rows.every((row) => row.inbound_protocol === 'anthropic-messages' && row.provider === 'openai')).toBe(true);
  });
});
