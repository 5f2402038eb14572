import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../../gateway/canonical/event.ts';
import { prepareRequest } from '../../../../gateway/forward/prepare-request.ts';
import { fromChatStream } from '../../../../gateway/providers/openai-chat/from-wire-stream.ts';
import { openaiChatAdapter } from '../../../../gateway/providers/openai-chat/index.ts';
import { mapChatUsage } from '../../../../gateway/providers/openai-chat/map-usage.ts';
import { OPENAI_COMPATIBLE_PRESETS } from '../../../../gateway/providers/openai-compatible-presets.ts';
import type { WireEvent } from '../../../../gateway/providers/provider-adapter.ts';
import type { ProviderConfig } from '../../../../shared/config/config-schema.ts';
import { conformanceRequest } from '../conformance.ts';

const build = (provider: Partial<ProviderConfig>, overrides: Parameters<typeof conformanceRequest>[0] = {}) => {
  const outbound = openaiChatAdapter.buildRequest(prepareRequest(conformanceRequest(overrides), openaiChatAdapter.capabilities).request, { providerName: 'c', provider: { type: 'openai-chat', api_key: 'k', ...provider }, requestId: 'r' });
  return { outbound, body: JSON.parse(outbound.body) as Record<string, unknown> };
};

describe('openai-chat adapter and presets', () => {
  it('knows every required preset', () => {
    expect(Object.keys(OPENAI_COMPATIBLE_PRESETS)).toEqual(expect.arrayContaining(['vllm', 'ollama', 'groq', 'together', 'fireworks', 'mistral', 'deepseek', 'openrouter', 'xai']));
  });

  it.each([
    ['groq', 'https://api.groq.com/openai/v1/chat/completions', 'Bearer k'],
    ['openrouter', 'https://openrouter.ai/api/v1/chat/completions', 'Bearer k'],
    ['ollama', 'http://127.0.0.1:11434/v1/chat/completions', undefined],
    ['deepseek', 'https://api.deepseek.com/v1/chat/completions', 'Bearer k'],
  ])('%s: base URL and auth style', (preset, url, authorization) => {
    const { outbound } = build({ preset });
    expect(outbound.url).toBe(url);
    expect(outbound.headers['authorization']).toBe(authorization);
  });

  it('lets config override a preset and supports api-key auth', () => {
    const { outbound } = build({ preset: 'vllm', base_url: 'http://gpu-box:9000/v1', auth_style: 'api-key' });
    expect(outbound.url).toBe('http://gpu-box:9000/v1/chat/completions');
    expect(outbound.headers['api-key']).toBe('k');
  });

  it('refuses an unknown preset by name', () => {
    expect(() => build({ preset: 'nope' })).toThrow(/unknown openai-chat preset "nope"/);
  });

  it('asks for usage in the stream and maps tools, custom tools and tool_choice', () => {
    const { body } = build({ preset: 'vllm' }, { toolChoice: { name: 'apply_patch' }, maxOutputTokens: 100 });
    expect(body['stream_options']).toEqual({ include_usage: true });
    expect(body['max_tokens']).toBe(100);
    expect((body['tools'] as { function: { name: string } }[]).map((tool) => tool.function.name)).toEqual(['exec_command', 'apply_patch']);
    expect(body['tool_choice']).toEqual({ type: 'function', function: { name: 'apply_patch' } });
  });

  it('gives Mistral 9-character tool call ids, the same for a call and its result, and keeps ids already valid', () => {
    const history = conformanceRequest({
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'go' }] },
        { role: 'assistant', parts: [{ type: 'tool-call', callId: 'call_patch1', name: 'exec_command', kind: 'function', input: '{}' }, { type: 'tool-call', callId: 'abcDEF123', name: 'exec_command', kind: 'function', input: '{}' }] },
        { role: 'tool', parts: [{ type: 'tool-result', callId: 'call_patch1', name: undefined, kind: 'function', output: 'x', isError: false }, { type: 'tool-result', callId: 'abcDEF123', name: undefined, kind: 'function', output: 'y', isError: false }] },
      ],
    });
    const { body } = build({ preset: 'mistral' }, history);
    const messages = body['messages'] as Record<string, unknown>[];
    const ids = (messages[1]!['tool_calls'] as { id: string }[]).map((call) => call.id);
    expect(ids[0]).toMatch(/^[a-zA-Z0-9]{9}$/);
    expect(ids[1]).toBe('abcDEF123');
    expect([messages[2]!['tool_call_id'], messages[3]!['tool_call_id']]).toEqual(ids);
    expect(body).not.toHaveProperty('stream_options');
  });

  it('reads DeepSeek cache hits and reasoning_content', async () => {
    expect(mapChatUsage({ prompt_tokens: 100, completion_tokens: 5, prompt_cache_hit_tokens: 60 })).toMatchObject({ inputTokens: 100, cachedInputTokens: 60 });
    async function* wire(): AsyncIterable<WireEvent> {
      yield { type: undefined, data: JSON.stringify({ id: 'x', model: 'deepseek-reasoner', choices: [{ index: 0, delta: { role: 'assistant', reasoning_content: 'think' } }] }) };
      yield { type: undefined, data: JSON.stringify({ id: 'x', choices: [{ index: 0, delta: { content: 'answer' }, finish_reason: 'stop' }] }) };
      yield { type: undefined, data: '[DONE]' };
    }
    const events: CanonicalEvent[] = [];
    for await (const event of fromChatStream(wire())) events.push(event);
    expect(events.map((event) => event.type)).toEqual(['response-metadata', 'reasoning-start', 'reasoning-delta', 'reasoning-end', 'text-start', 'text-delta', 'text-end', 'finish']);
  });
});
