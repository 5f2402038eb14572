import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CanonicalEvent } from '../../../gateway/canonical/event.ts';
import { prepareRequest } from '../../../gateway/forward/prepare-request.ts';
import { customInputFromArguments, restoreToolIdentity } from '../../../gateway/forward/restore-tool-identity.ts';
import { responsesToCanonical } from '../../../gateway/inbound/openai-responses/to-canonical.ts';
import { anthropicCapabilities } from '../../../gateway/providers/anthropic/capabilities.ts';
import { openaiCapabilities } from '../../../gateway/providers/openai/capabilities.ts';

const turn3 = JSON.parse(readFileSync(new URL('../../fixtures/inbound/codex-cli/responses-request-turn3.json', import.meta.url), 'utf8')) as { body: Record<string, unknown> };

async function* from(events: CanonicalEvent[]): AsyncIterable<CanonicalEvent> {
  yield* events;
}
async function collect(source: AsyncIterable<CanonicalEvent>): Promise<CanonicalEvent[]> {
  const out: CanonicalEvent[] = [];
  for await (const event of source) out.push(event);
  return out;
}

describe('Responses → canonical (Codex turn 3)', () => {
  const { request, warnings } = responsesToCanonical(turn3.body, 'claude-x');
  it('keeps tool kinds, call ids and hosted tools', () => {
    expect(warnings).toEqual([]);
    expect(request.tools.map((tool) => (tool.kind === 'hosted' ? `hosted:${tool.type}` : `${tool.kind}:${tool.name}`))).toEqual([
      'function:exec_command', 'function:write_stdin', 'function:request_user_input', 'custom:apply_patch', 'function:view_image',
      'function:get_goal', 'function:create_goal', 'function:update_goal', 'hosted:tool_search', 'hosted:web_search',
    ]);
    const parts = request.messages.flatMap((message) => message.parts.map((part) => `${message.role}:${part.type}${part.type === 'tool-call' || part.type === 'tool-result' ? `:${part.kind}:${part.callId}` : ''}`));
    expect(parts.slice(-4)).toEqual(['assistant:tool-call:custom:call_patch1', 'tool:tool-result:custom:call_patch1', 'assistant:tool-call:function:call_exec1', 'tool:tool-result:function:call_exec1']);
    expect(request).toMatchObject({ model: 'claude-x', toolChoice: 'auto', parallelToolCalls: true, reasoningEffort: 'medium', promptCacheKey: '01a21ff0-c202-77a0-aae6-ef56aa232c77', stream: true });
    expect(request.providerOptions['openai']).toMatchObject({ include: ['reasoning.encrypted_content'], store: false, text_verbosity: 'low' });
  });

  it('for Anthropic: custom → function with `input`, hosted tools dropped with warnings', () => {
    const prepared = prepareRequest(request, anthropicCapabilities);
    const patch = prepared.request.tools.find((tool) => tool.kind !== 'hosted' && tool.name === 'apply_patch');
    expect(patch).toMatchObject({ kind: 'function', parameters: { type: 'object', required: ['input'] } });
    expect(prepared.request.tools.some((tool) => tool.kind === 'hosted')).toBe(false);
    expect(prepared.identities.get('apply_patch')).toEqual({ name: 'apply_patch', namespace: undefined, kind: 'custom' });
    const call = prepared.request.messages.flatMap((message) => message.parts).find((part) => part.type === 'tool-call' && part.callId === 'call_patch1');
    expect(call).toMatchObject({ kind: 'function', input: JSON.stringify({ input: '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n' }) });
    expect(prepared.warnings.map((item) => `${item.type}:${item.feature}`)).toEqual(['compatibility:tool:apply_patch', 'unsupported:tool:tool_search', 'unsupported:tool:web_search']);
  });

  it('for OpenAI: nothing changes kind and nothing is dropped', () => {
    const prepared = prepareRequest(request, openaiCapabilities);
    expect(prepared.warnings).toEqual([]);
    expect(prepared.identities.size).toBe(0);
    expect(prepared.request.tools.length).toBe(10);
  });
});

describe('restoreToolIdentity', () => {
  const identities = new Map([['apply_patch', { name: 'apply_patch', namespace: undefined, kind: 'custom' as const }], ['ns__run', { name: 'run', namespace: 'ns', kind: 'function' as const }]]);

  it('decodes the custom input incrementally, escapes split across deltas included', async () => {
    const input = 'line "one"\n\ttab \\ back é ☃ 😀\n';
    const json = JSON.stringify({ input }).replace('é', '\\u00e9');
    const deltas: CanonicalEvent[] = [];
    for (let index = 0; index < json.length; index += 3) deltas.push({ type: 'tool-call-delta', id: 't', delta: json.slice(index, index + 3) });
    const events = await collect(restoreToolIdentity(from([{ type: 'tool-call-start', id: 't', callId: 'c', name: 'apply_patch', kind: 'function' }, ...deltas, { type: 'tool-call-end', id: 't', input: json }, { type: 'finish', reason: { unified: 'tool-calls', raw: 'x' } }]), identities));
    expect(events[0]).toMatchObject({ type: 'tool-call-start', name: 'apply_patch', kind: 'custom' });
    const streamed = events.flatMap((event) => (event.type === 'tool-call-delta' ? [event.delta] : []));
    expect(streamed.join('')).toBe(input);
    expect(streamed.length).toBeGreaterThan(5);
    expect(events.find((event) => event.type === 'tool-call-end')).toMatchObject({ input });
  });

  it('falls back to the final arguments when the model used another shape', async () => {
    const args = '{"patch":"*** Begin Patch\\n*** End Patch\\n"}';
    const events = await collect(restoreToolIdentity(from([{ type: 'tool-call-start', id: 't', callId: 'c', name: 'apply_patch', kind: 'function' }, { type: 'tool-call-delta', id: 't', delta: args }, { type: 'tool-call-end', id: 't', input: args }]), identities));
    expect(events.map((event) => event.type)).toEqual(['tool-call-start', 'tool-call-delta', 'tool-call-end']);
    expect(events[1]).toMatchObject({ delta: '*** Begin Patch\n*** End Patch\n' });
    expect(customInputFromArguments('not json at all')).toBe('not json at all');
  });

  it('un-flattens namespace names and leaves other tools alone', async () => {
    const events = await collect(restoreToolIdentity(from([{ type: 'tool-call-start', id: 'a', callId: 'c1', name: 'ns__run', kind: 'function' }, { type: 'tool-call-start', id: 'b', callId: 'c2', name: 'exec_command', kind: 'function' }]), identities));
    expect(events).toEqual([
      { type: 'tool-call-start', id: 'a', callId: 'c1', name: 'run', namespace: 'ns', kind: 'function' },
      { type: 'tool-call-start', id: 'b', callId: 'c2', name: 'exec_command', kind: 'function' },
    ]);
  });
});

describe('items the canonical form has no type for', () => {
  const body = {
    model: 'gpt-5.5',
    input: [
      { type: 'compaction', id: 'cmp_1', encrypted_content: 'opaque-summary' },
      { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'continue' }] },
    ],
    tools: [{ type: 'namespace', name: 'multi_agent_v1', description: 'Sub-agents', tools: [{ type: 'function', name: 'spawn_agent', parameters: { type: 'object', properties: {} } }] }],
  };

  it('reach a Responses upstream unchanged, with namespace groups and their description', async () => {
    const { openaiAdapter } = await import('../../../gateway/providers/openai/index.ts');
    const prepared = prepareRequest(responsesToCanonical(body, 'gpt-5.5').request, openaiCapabilities);
    expect(prepared.warnings).toEqual([]);
    const wire = JSON.parse(openaiAdapter.buildRequest(prepared.request, { providerName: 'o', provider: { type: 'openai' }, requestId: 'r' }).body) as Record<string, unknown>;
    expect(wire['input']).toEqual([{ type: 'compaction', id: 'cmp_1', encrypted_content: 'opaque-summary' }, { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'continue' }] }]);
    expect(wire['tools']).toEqual([{ type: 'namespace', name: 'multi_agent_v1', description: 'Sub-agents', tools: [{ type: 'function', name: 'spawn_agent', description: '', strict: false, parameters: { properties: {}, type: 'object' } }] }]);
  });

  it('are dropped with a warning towards another family', () => {
    const prepared = prepareRequest(responsesToCanonical(body, 'claude').request, anthropicCapabilities);
    expect(prepared.request.messages.flatMap((message) => message.parts.map((part) => part.type))).toEqual(['text']);
    expect(prepared.warnings.map((item) => `${item.type}:${item.feature}`)).toEqual(['compatibility:tool:namespace', 'unsupported:input_item:compaction']);
  });
});
