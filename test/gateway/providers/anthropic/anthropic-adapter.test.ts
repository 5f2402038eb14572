import { describe, expect, it } from 'vitest';
import { prepareRequest } from '../../../../gateway/forward/prepare-request.ts';
import { anthropicAdapter } from '../../../../gateway/providers/anthropic/index.ts';
import { mapAnthropicUsage } from '../../../../gateway/providers/anthropic/map-usage.ts';
import type { ProviderConfig } from '../../../../shared/config/config-schema.ts';
import { conformanceRequest } from '../conformance.ts';

const build = (config: Partial<ProviderConfig>, overrides: Parameters<typeof conformanceRequest>[0] = {}) => {
  const prepared = prepareRequest(conformanceRequest(overrides), anthropicAdapter.capabilities);
  const outbound = anthropicAdapter.buildRequest(prepared.request, { providerName: 'anthropic', provider: { type: 'anthropic', api_key: 'sk_test', ...config }, requestId: 'r' });
  return { outbound, body: JSON.parse(outbound.body) as Record<string, unknown>, warnings: outbound.warnings.map((item) => `${item.type}:${item.feature}`) };
};

describe('anthropic adapter', () => {
  it('sends x-api-key and the default anthropic-version to /v1/messages', () => {
    const { outbound } = build({});
    expect(outbound.url).toBe('https://api.anthropic.com/v1/messages');
    expect(outbound.headers).toMatchObject({ 'x-api-key': 'sk_test', 'anthropic-version': '2023-06-01' });
    expect(outbound.headers['authorization']).toBeUndefined();
  });

  it("sends the client's output cap, else the model's default_max_output_tokens, else 32000 as max_tokens", () => {
    const buildWith = (maxOutputTokens: number | undefined, defaultMaxOutputTokens: number | undefined) => {
      const prepared = prepareRequest(conformanceRequest({ maxOutputTokens }), anthropicAdapter.capabilities);
      const outbound = anthropicAdapter.buildRequest(prepared.request, { providerName: 'anthropic', provider: { type: 'anthropic', api_key: 'sk_test' }, requestId: 'r', defaultMaxOutputTokens });
      return (JSON.parse(outbound.body) as { max_tokens: number }).max_tokens;
    };
    expect(buildWith(1000, 4096)).toBe(1000);
    expect(buildWith(undefined, 4096)).toBe(4096);
    expect(buildWith(undefined, undefined)).toBe(32_000);
  });

  it('uses Bearer auth when configured (SDK 1.x style gateways)', () => {
    expect(build({ auth_style: 'bearer' }).outbound.headers['authorization']).toBe('Bearer sk_test');
  });

  it('keeps temperature/top_p/top_k on 2023-06-01 but not on versions that reject them', () => {
    const sampling = { temperature: 0.3, topP: 0.9, topK: 40 };
    expect(build({}, sampling).body).toMatchObject({ temperature: 0.3, top_p: 0.9, top_k: 40 });
    const newer = build({ headers: { 'anthropic-version': '2026-10-21' } }, sampling);
    expect(newer.body).not.toHaveProperty('temperature');
    expect(newer.body).not.toHaveProperty('top_p');
    expect(newer.body).not.toHaveProperty('top_k');
    expect(newer.outbound.headers['anthropic-version']).toBe('2026-10-21');
    expect(newer.warnings).toEqual(expect.arrayContaining(['unsupported:temperature', 'unsupported:top_p', 'unsupported:top_k']));
  });

  it('maps reasoning effort to a thinking budget below max_tokens, and drops sampling with thinking', () => {
    const { body, warnings } = build({}, { reasoningEffort: 'high', maxOutputTokens: 8000, temperature: 0.5 });
    expect(body['thinking']).toEqual({ type: 'enabled', budget_tokens: 24_000 });
    expect(body['max_tokens']).toBeGreaterThan(24_000);
    expect(body).not.toHaveProperty('temperature');
    expect(warnings).toContain('unsupported:temperature');
  });

  it('maps tool_choice and parallel_tool_calls', () => {
    expect(build({}, { toolChoice: 'required', parallelToolCalls: false }).body['tool_choice']).toEqual({ type: 'any', disable_parallel_tool_use: true });
    expect(build({}, { toolChoice: { name: 'exec_command' } }).body['tool_choice']).toEqual({ type: 'tool', name: 'exec_command' });
    expect(build({}, { toolChoice: 'none' }).body['tool_choice']).toEqual({ type: 'none' });
    expect(build({}, { toolChoice: 'auto' }).body).not.toHaveProperty('tool_choice');
  });

  it('marks a tool_result error and keeps parallel results in one user turn', () => {
    const { body } = build({}, {
      messages: [
        { role: 'user', parts: [{ type: 'text', text: 'go' }] },
        { role: 'assistant', parts: [{ type: 'tool-call', callId: 'c1', name: 'exec_command', kind: 'function', input: '{"cmd":"a"}' }, { type: 'tool-call', callId: 'c2', name: 'exec_command', kind: 'function', input: '{"cmd":"b"}' }] },
        { role: 'tool', parts: [{ type: 'tool-result', callId: 'c1', name: 'exec_command', kind: 'function', output: 'ok', isError: false }, { type: 'tool-result', callId: 'c2', name: 'exec_command', kind: 'function', output: 'boom', isError: true }] },
      ],
    });
    const messages = body['messages'] as { role: string; content: Record<string, unknown>[] }[];
    expect(messages.map((message) => message.role)).toEqual(['user', 'assistant', 'user']);
    expect(messages[2]!.content).toEqual([
      { type: 'tool_result', tool_use_id: 'c1', content: 'ok' },
      { type: 'tool_result', tool_use_id: 'c2', content: 'boom', is_error: true },
    ]);
  });

  it('adds cache reads and writes back into input tokens', () => {
    expect(mapAnthropicUsage({ input_tokens: 10, cache_read_input_tokens: 900, cache_creation_input_tokens: 90, output_tokens: 5 })).toEqual({ inputTokens: 1000, cachedInputTokens: 900, cacheWriteTokens: 90, outputTokens: 5, reasoningTokens: 0 });
  });

  it('serializes the same tools to the same bytes whatever key order the client used', () => {
    const schemaA = { type: 'object', properties: { b: { type: 'string' }, a: { type: 'number' } }, required: ['b'] };
    const schemaB = { required: ['b'], properties: { a: { type: 'number' }, b: { type: 'string' } }, type: 'object' };
    const tools = (schema: Record<string, unknown>) => [{ kind: 'function' as const, name: 't', description: 'd', parameters: schema, strict: undefined }];
    const first = build({}, { tools: tools(schemaA) }).outbound.body;
    const second = build({}, { tools: tools(schemaB) }).outbound.body;
    expect(first).toBe(second);
  });
});

describe('anthropic thinking constraints', () => {
  it('does not enable thinking with a forced tool choice, or mid tool-loop when the turn came from another provider', () => {
    expect(build({}, { reasoningEffort: 'medium', toolChoice: 'required' }).body).not.toHaveProperty('thinking');
    const foreignLoop = {
      reasoningEffort: 'medium',
      messages: [
        { role: 'user' as const, parts: [{ type: 'text' as const, text: 'go' }] },
        { role: 'assistant' as const, parts: [{ type: 'tool-call' as const, callId: 'c1', name: 'exec_command', kind: 'function' as const, input: '{}' }] },
        { role: 'tool' as const, parts: [{ type: 'tool-result' as const, callId: 'c1', name: undefined, kind: 'function' as const, output: 'ok', isError: false }] },
      ],
    };
    const result = build({}, foreignLoop);
    expect(result.body).not.toHaveProperty('thinking');
    expect(result.warnings).toContain('unsupported:reasoning.effort');
    const ownLoop = { ...foreignLoop, messages: [foreignLoop.messages[0]!, { role: 'assistant' as const, parts: [{ type: 'reasoning' as const, id: undefined, text: 't', summary: [], opaque: { family: 'anthropic' as const, kind: 'signature', value: 's' } }, ...foreignLoop.messages[1]!.parts] }, foreignLoop.messages[2]!] };
    expect(build({}, ownLoop).body['thinking']).toEqual({ type: 'enabled', budget_tokens: 10_000 });
  });
});
