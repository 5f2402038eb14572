import Anthropic from '@anthropic-ai/sdk';
import { readFileSync } from 'node:fs';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { GatewayError } from '../../../gateway/errors/gateway-error.ts';
import { forwardTranslated } from '../../../gateway/forward/forward-translated.ts';
import type { ForwardRequest, InboundProtocol, ResolvedTarget } from '../../../gateway/forward/forward-types.ts';
import { decodeSse } from '../../../gateway/transport/decode-sse.ts';
import type { ProviderConfig } from '../../../shared/config/config-schema.ts';
import { startFakeUpstream, type FakeProvider, type FakeUpstream, type ScriptedTurn } from '../../helpers/fake-upstreams/index.ts';
import { memorySink, type MemorySink } from '../../helpers/memory-sink.ts';
import { startTranslatingServer } from '../../helpers/translating-server.ts';

const PATCH = '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n';
const fixture = (turn: number): { headers: Record<string, string>; body: Record<string, unknown> } =>
  JSON.parse(readFileSync(new URL(`../../fixtures/inbound/codex-cli/responses-request-turn${turn}.json`, import.meta.url), 'utf8')) as { headers: Record<string, string>; body: Record<string, unknown> };

const CONFIGS: Record<FakeProvider, (url: string) => ProviderConfig> = {
  openai: (url) => ({ type: 'openai', base_url: `${url}/v1`, api_key: 'sk_test' }),
  'azure-openai': (url) => ({ type: 'azure-openai', base_url: url, api_key: 'sk_test', api_version: '2025-04-01-preview' }),
  'openai-chat': (url) => ({ type: 'openai-chat', preset: 'groq', base_url: `${url}/openai/v1`, api_key: 'sk_test' }),
  anthropic: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
  gemini: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
  bedrock: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
};

function target(provider: FakeProvider, url: string, upstreamModel = 'upstream-model'): ResolvedTarget {
  return { model: 'gpt-5.5', upstreamModel, providerName: provider, provider: CONFIGS[provider](url), price: { input: 1, cached_input: 0.1, output: 2 } } as ResolvedTarget;
}

function forwardRequest(inbound: InboundProtocol, body: Record<string, unknown>, resolved: ResolvedTarget, sink: MemorySink): ForwardRequest {
  return {
    inbound,
    body,
    rawBody: Buffer.from(JSON.stringify(body)),
    forwardHeaders: {},
    target: resolved,
    stream: body['stream'] === true,
    sink,
    timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 20_000 },
    sessionId: 's1',
    requestId: 'req_1',
  };
}

async function sseEvents(text: string): Promise<{ type: string | undefined; data: Record<string, unknown> }[]> {
  const out: { type: string | undefined; data: Record<string, unknown> }[] = [];
  for await (const event of decodeSse([text])) out.push({ type: event.type, data: event.data === '[DONE]' ? { done: true } : (JSON.parse(event.data) as Record<string, unknown>) });
  return out;
}

let cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups) await cleanup();
  cleanups = [];
});
async function fake(provider: FakeProvider, script: ScriptedTurn[]): Promise<FakeUpstream> {
  const upstream = await startFakeUpstream(provider, { script });
  cleanups.push(() => upstream.close());
  return upstream;
}
async function gateway(resolved: ResolvedTarget): Promise<Awaited<ReturnType<typeof startTranslatingServer>>> {
  const server = await startTranslatingServer(resolved);
  cleanups.push(() => server.close());
  return server;
}

const PROVIDERS: FakeProvider[] = ['anthropic', 'gemini', 'bedrock', 'openai-chat', 'azure-openai', 'openai'];

describe('Responses inbound (Codex) → every provider, read back by the openai SDK', () => {
  for (const provider of PROVIDERS) {
    it(`${provider}: text, a function call and apply_patch come back in the kinds Codex declared`, async () => {
      const upstream = await fake(provider, [
        { text: 'Creating the file.', toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls' }, id: 'call_up_1' }], customToolCalls: [{ name: 'apply_patch', input: PATCH, id: 'call_up_2' }], usage: { input: 9000, cached: 8000, output: 40 } },
      ]);
      const server = await gateway(target(provider, upstream.url));
      const client = new OpenAI({ apiKey: 'vk_test', baseURL: `${server.url}/v1`, maxRetries: 0 });
      const body = fixture(1).body;
      const stream = client.responses.stream(body as never);
      const types: string[] = [];
      for await (const event of stream) types.push(event.type);
      const final = await stream.finalResponse();
      expect(types[0]).toBe('response.created');
      expect(types.at(-1)).toBe('response.completed');
      expect(types).toContain('response.custom_tool_call_input.delta');
      expect(types).toContain('response.function_call_arguments.done');
      expect(final.output_text).toBe('Creating the file.');
      const call = final.output.find((item) => item.type === 'function_call');
      const custom = final.output.find((item) => item.type === 'custom_tool_call');
      expect(call).toMatchObject({ name: 'exec_command', arguments: '{"cmd":"ls"}', status: 'completed' });
      expect(custom).toMatchObject({ name: 'apply_patch', input: PATCH, status: 'completed' });
      expect(final.usage).toMatchObject({ input_tokens: 9000, input_tokens_details: { cached_tokens: 8000 }, output_tokens: 40 });
      const outcome = server.outcomes[0]!;
      expect(outcome.usage).toMatchObject({ inputTokens: 9000, cachedInputTokens: 8000, outputTokens: 40 });
      expect(outcome.toolCalls.map((item) => [item.name, item.kind])).toEqual([['exec_command', 'function'], ['apply_patch', 'custom']]);
      expect(upstream.requests).toHaveLength(1);
      const wire = JSON.stringify(upstream.requests[0]?.body);
      expect(wire).toContain('create hello.txt');
      if (provider !== 'openai' && provider !== 'azure-openai') {
        expect(wire).not.toContain('"web_search"');
        expect(outcome.warnings.some((warning) => warning.startsWith('unsupported:tool:web_search'))).toBe(true);
      }
    });
  }

  it('turn 3 of the Codex session (custom and function call history) reaches Anthropic as paired tool_use/tool_result', async () => {
    const upstream = await fake('anthropic', [{ text: 'Done: hello.txt says hello world.' }]);
    const sink = memorySink();
    await forwardTranslated(forwardRequest('openai-responses', fixture(3).body, target('anthropic', upstream.url, 'claude-x'), sink));
    const wire = upstream.requests[0]!.body as { system: { text: string; cache_control?: unknown }[]; messages: { role: string; content: Record<string, unknown>[] }[]; tools: { name: string; cache_control?: unknown }[] };
    // Both developer messages (4 text parts) become the system prompt; the stable prefix ends in cache breakpoints.
    expect(wire.system.length).toBe(4);
    expect(wire.system.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(wire.tools.at(-1)?.cache_control).toEqual({ type: 'ephemeral' });
    expect(wire.system.slice(0, -1).every((block) => block.cache_control === undefined)).toBe(true);
    const blocks = wire.messages.flatMap((message) => message.content.map((block) => `${message.role}:${String(block['type'])}`));
    expect(blocks.slice(-4)).toEqual(['assistant:tool_use', 'user:tool_result', 'assistant:tool_use', 'user:tool_result']);
    const toolUses = wire.messages.flatMap((message) => message.content.filter((block) => block['type'] === 'tool_use'));
    expect(toolUses[0]).toMatchObject({ id: 'call_patch1', name: 'apply_patch', input: { input: '*** Begin Patch\n*** Add File: hello.txt\n+hello world\n*** End Patch\n' } });
    expect(toolUses[1]).toMatchObject({ id: 'call_exec1', name: 'exec_command', input: { cmd: 'cat hello.txt && echo done' } });
    const results = wire.messages.flatMap((message) => message.content.filter((block) => block['type'] === 'tool_result'));
    expect(results.map((block) => block['tool_use_id'])).toEqual(['call_patch1', 'call_exec1']);
    expect(wire.tools.map((tool) => tool.name)).toEqual(['exec_command', 'write_stdin', 'request_user_input', 'apply_patch', 'view_image', 'get_goal', 'create_goal', 'update_goal']);
    const events = await sseEvents(sink.text());
    expect(events.at(-1)).toMatchObject({ type: 'response.completed', data: { response: { output: [{ type: 'message', content: [{ text: 'Done: hello.txt says hello world.' }] }] } } });
  });

  it('turn 3 reaches Gemini with function responses named by call order (no ids)', async () => {
    const upstream = await fake('gemini', [{ text: 'ok' }]);
    await forwardTranslated(forwardRequest('openai-responses', fixture(3).body, target('gemini', upstream.url, 'gemini-2.5-pro'), memorySink()));
    const wire = upstream.requests[0]!.body as { contents: { role: string; parts: Record<string, unknown>[] }[] };
    const parts = wire.contents.flatMap((content) => content.parts.map((part) => ({ role: content.role, part })));
    const calls = parts.filter((entry) => entry.part['functionCall'] !== undefined);
    const responses = parts.filter((entry) => entry.part['functionResponse'] !== undefined);
    expect(calls.map((entry) => (entry.part['functionCall'] as { name: string }).name)).toEqual(['apply_patch', 'exec_command']);
    expect(responses.map((entry) => (entry.part['functionResponse'] as { name: string }).name)).toEqual(['apply_patch', 'exec_command']);
    for (const entry of [...calls, ...responses]) expect(Object.keys((entry.part['functionCall'] ?? entry.part['functionResponse']) as object)).not.toContain('id');
    expect(upstream.requests[0]!.url).toBe('/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse');
  });

  it('keeps Anthropic thinking signatures across turns through Codex, and drops them towards another provider', async () => {
    const anthropic = await fake('anthropic', [{ reasoning: { text: 'I should list files.', signature: 'sig_real' }, toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls' }, id: 'toolu_1' }] }, { text: 'ok' }]);
    const sink = memorySink();
    const body = { model: 'gpt-5.5', stream: true, input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'list' }] }], tools: [{ type: 'function', name: 'exec_command', parameters: { type: 'object', properties: { cmd: { type: 'string' } } } }] };
    await forwardTranslated(forwardRequest('openai-responses', body, target('anthropic', anthropic.url), sink));
    const done = (await sseEvents(sink.text())).filter((event) => event.type === 'response.output_item.done').map((event) => event.data['item'] as Record<string, unknown>);
    const reasoning = done.find((item) => item['type'] === 'reasoning')!;
    const call = done.find((item) => item['type'] === 'function_call')!;
    expect(reasoning['encrypted_content']).toMatch(/^gh1\./);
    expect(reasoning['summary']).toEqual([{ type: 'summary_text', text: 'I should list files.' }]);
    // Codex resends the items as they came, plus the tool output.
    const next = { ...body, input: [...body.input, reasoning, call, { type: 'function_call_output', call_id: call['call_id'], output: 'a.txt' }] };
    await forwardTranslated(forwardRequest('openai-responses', next, target('anthropic', anthropic.url), memorySink()));
    const assistant = (anthropic.requests[1]!.body as { messages: { role: string; content: Record<string, unknown>[] }[] }).messages[1]!;
    expect(assistant.content[0]).toEqual({ type: 'thinking', thinking: 'I should list files.', signature: 'sig_real' });
    expect(assistant.content[1]).toMatchObject({ type: 'tool_use', id: 'toolu_1', name: 'exec_command' });

    const gemini = await fake('gemini', [{ text: 'ok' }]);
    const outcome = await forwardTranslated(forwardRequest('openai-responses', next, target('gemini', gemini.url), memorySink()));
    expect(JSON.stringify(gemini.requests[0]!.body)).not.toContain('sig_real');
    expect(outcome.warnings.some((warning) => warning.startsWith('unsupported:reasoning.encrypted_content'))).toBe(true);
  });

  it('flattens namespace tools for Anthropic and gives the call back with its namespace', async () => {
    const upstream = await fake('anthropic', [{ toolCalls: [{ name: 'multi_agent_v1__spawn_agent', arguments: { task: 'x' } }] }]);
    const sink = memorySink();
    const body = {
      model: 'gpt-5.1-codex',
      stream: true,
      input: 'go',
      tools: [{ type: 'namespace', name: 'multi_agent_v1', description: 'agents', tools: [{ type: 'function', name: 'spawn_agent', description: 'spawn', parameters: { type: 'object', properties: { task: { type: 'string' } } } }] }],
    };
    const outcome = await forwardTranslated(forwardRequest('openai-responses', body, target('anthropic', upstream.url), sink));
    expect((upstream.requests[0]!.body as { tools: { name: string }[] }).tools.map((tool) => tool.name)).toEqual(['multi_agent_v1__spawn_agent']);
    const added = (await sseEvents(sink.text())).find((event) => event.type === 'response.output_item.added');
    expect(added?.data['item']).toMatchObject({ type: 'function_call', name: 'spawn_agent', namespace: 'multi_agent_v1' });
    expect(outcome.toolCalls[0]).toMatchObject({ name: 'multi_agent_v1.spawn_agent', kind: 'function' });
  });

  it('answers stream:false with one Responses JSON body', async () => {
    const upstream = await fake('gemini', [{ text: 'plain answer', usage: { input: 10, cached: 5, output: 3 } }]);
    const server = await gateway(target('gemini', upstream.url));
    const client = new OpenAI({ apiKey: 'vk_test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const response = await client.responses.create({ model: 'gpt-5.5', input: 'hi' });
    expect(response.output_text).toBe('plain answer');
    expect(response.status).toBe('completed');
    expect(response.usage?.input_tokens_details.cached_tokens).toBe(5);
  });
});

describe('incremental streaming', () => {
  for (const provider of ['anthropic', 'gemini', 'bedrock', 'openai-chat'] as const) {
    it(`${provider}: each delta reaches the client while the upstream is still sending`, async () => {
      const upstream = await fake(provider, [{ text: 'one two three four five six', chunkSize: 4, frameDelayMillis: 60 }]);
      const sink = memorySink();
      const times: { at: number; text: string }[] = [];
      const write = sink.write.bind(sink);
      sink.write = (chunk) => {
        times.push({ at: performance.now(), text: String(chunk) });
        write(chunk);
      };
      const started = performance.now();
      await forwardTranslated(forwardRequest('openai-responses', { model: 'm', stream: true, input: 'hi' }, target(provider, upstream.url), sink));
      const ended = performance.now();
      const deltas = times.filter((entry) => entry.text.includes('response.output_text.delta'));
      expect(deltas.length).toBeGreaterThanOrEqual(5);
      // The first delta left long before the upstream finished, and deltas kept arriving spread out.
      expect(deltas[0]!.at - started).toBeLessThan((ended - started) / 2);
      expect(deltas.at(-1)!.at - deltas[0]!.at).toBeGreaterThan(150);
    });
  }
});

describe('failures: fallback before the first byte, in-band after', () => {
  it('throws a retryable GatewayError on an upstream 429 without starting the sink', async () => {
    const upstream = await fake('anthropic', [{ error: { status: 429, retryAfter: '1' } }]);
    const sink = memorySink();
    const error = await forwardTranslated(forwardRequest('openai-responses', { model: 'm', stream: true, input: 'hi' }, target('anthropic', upstream.url), sink)).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(GatewayError);
    expect(error).toMatchObject({ code: 'upstream_rate_limited', retryable: true, retryAfterMillis: 1000, provider: 'anthropic' });
    expect(sink.started).toBe(false);
  });

  it('throws (still fallback-able) when the stream dies before any output', async () => {
    const upstream = await fake('bedrock', [{ text: 'never', dropAfterFrames: 1 }, { error: { status: 503 } }]);
    const sink = memorySink();
    await expect(forwardTranslated(forwardRequest('openai-responses', { model: 'm', stream: true, input: 'hi' }, target('bedrock', upstream.url), sink))).rejects.toMatchObject({ retryable: true });
    expect(sink.started).toBe(false);
    await expect(forwardTranslated(forwardRequest('openai-responses', { model: 'm', stream: true, input: 'hi' }, target('bedrock', upstream.url), sink))).rejects.toMatchObject({ code: 'no_healthy_upstream', retryable: true });
  });

  it('throws when the upstream cannot be reached at all', async () => {
    const upstream = await fake('openai-chat', []);
    const url = upstream.url;
    await upstream.close();
    cleanups = [];
    const sink = memorySink();
    await expect(forwardTranslated(forwardRequest('openai-responses', { model: 'm', stream: true, input: 'hi' }, target('openai-chat', url), sink))).rejects.toMatchObject({ code: 'upstream_error', retryable: true });
    expect(sink.started).toBe(false);
  });

  it('turns a truncated stream into response.failed, never response.completed', async () => {
    const upstream = await fake('anthropic', [{ text: 'half an answ', truncate: true }]);
    const sink = memorySink();
    const outcome = await forwardTranslated(forwardRequest('openai-responses', { model: 'm', stream: true, input: 'hi' }, target('anthropic', upstream.url), sink));
    const events = await sseEvents(sink.text());
    expect(events.map((event) => event.type)).not.toContain('response.completed');
    expect(events.at(-1)).toMatchObject({ type: 'response.failed', data: { response: { status: 'failed', error: { code: 'upstream_error' } } } });
    expect(outcome).toMatchObject({ status: 200, errorCode: 'upstream_error' });
    expect(sink.ended).toBe(true);
  });

  it('ends a mid-stream upstream error as response.failed for the openai SDK', async () => {
    const upstream = await fake('gemini', [{ text: 'partial text here', midStreamError: { message: 'overloaded' } }]);
    const server = await gateway(target('gemini', upstream.url));
    const client = new OpenAI({ apiKey: 'vk_test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const stream = client.responses.stream({ model: 'gpt-5.5', input: 'hi' });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types).toContain('response.output_text.delta');
    expect(types.at(-1)).toBe('response.failed');
    expect(types).not.toContain('response.completed');
    const final = await stream.finalResponse();
    expect(final).toMatchObject({ status: 'failed', error: { code: 'upstream_error' } });
    expect(final.error?.message).toContain('overloaded');
    expect(server.outcomes[0]?.errorCode).toBe('upstream_error');
  });

  it('renders a 429 for the openai SDK in OpenAI error shape', async () => {
    const upstream = await fake('bedrock', [{ error: { status: 429, message: 'Too many requests' } }]);
    const server = await gateway(target('bedrock', upstream.url));
    const client = new OpenAI({ apiKey: 'vk_test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const failure = await client.responses.create({ model: 'gpt-5.5', input: 'hi', stream: true }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.RateLimitError);
    expect((failure as InstanceType<typeof OpenAI.RateLimitError>).code).toBe('upstream_rate_limited');
  });
});

describe('Chat Completions inbound', () => {
  it('→ anthropic: streamed parallel tool calls and usage, parsed by the openai SDK', async () => {
    const upstream = await fake('anthropic', [{ text: 'Checking.', toolCalls: [{ name: 'get_weather', arguments: { city: 'Paris' } }, { name: 'get_weather', arguments: { city: 'Oslo' } }], usage: { input: 500, cached: 300, cacheWrite: 100, output: 12 } }]);
    const server = await gateway(target('anthropic', upstream.url, 'claude-x'));
    const client = new OpenAI({ apiKey: 'vk_test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const stream = client.chat.completions.stream({
      model: 'gpt-5.5',
      messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'weather?' }],
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      stream_options: { include_usage: true },
      temperature: 0.2,
    });
    const final = await stream.finalChatCompletion();
    const message = final.choices[0]!.message;
    expect(message.content).toBe('Checking.');
    expect(message.tool_calls?.map((call) => (call.type === 'function' ? [call.id, call.function.name, call.function.arguments] : []))).toEqual([
      ['toolu_fake_0', 'get_weather', '{"city":"Paris"}'],
      ['toolu_fake_1', 'get_weather', '{"city":"Oslo"}'],
    ]);
    expect(final.choices[0]!.finish_reason).toBe('tool_calls');
    expect(final.usage).toMatchObject({ prompt_tokens: 500, completion_tokens: 12, prompt_tokens_details: { cached_tokens: 300 } });
    const wire = upstream.requests[0]!.body!;
    expect(wire).toMatchObject({ model: 'claude-x', temperature: 0.2, system: [{ type: 'text', text: 'be brief', cache_control: { type: 'ephemeral' } }] });
    expect(upstream.requests[0]!.headers['anthropic-version']).toBe('2023-06-01');
    expect(upstream.requests[0]!.headers['x-api-key']).toBe('sk_test');
  });

  it('→ bedrock non-streaming: one chat.completion body', async () => {
    const upstream = await fake('bedrock', [{ text: 'hi there', usage: { input: 40, cached: 30, output: 2 } }]);
    const server = await gateway(target('bedrock', upstream.url, 'anthropic.claude-x'));
    const client = new OpenAI({ apiKey: 'vk_test', baseURL: `${server.url}/v1`, maxRetries: 0 });
    const completion = await client.chat.completions.create({ model: 'gpt-5.5', messages: [{ role: 'user', content: 'hello' }] });
    expect(completion.choices[0]!.message.content).toBe('hi there');
    expect(completion.usage).toMatchObject({ prompt_tokens: 40, prompt_tokens_details: { cached_tokens: 30 } });
    expect(upstream.requests[0]!.url).toBe('/model/anthropic.claude-x/converse-stream');
  });
});

describe('Anthropic Messages inbound', () => {
  it('→ openai Responses: thinking, text and tool_use parsed by @anthropic-ai/sdk, usage back in Anthropic convention', async () => {
    const upstream = await fake('openai', [{ reasoning: { text: 'plan', signature: 'enc_openai' }, text: 'Let me look.', toolCalls: [{ name: 'read_file', arguments: { path: 'a.ts' }, id: 'call_r1' }], usage: { input: 2000, cached: 1500, output: 30, reasoning: 8 } }]);
    const server = await gateway(target('openai', upstream.url, 'gpt-5.5'));
    const client = new Anthropic({ apiKey: 'vk_test', baseURL: server.url, maxRetries: 0 });
    const message = await client.messages
      .stream({ model: 'claude-test', max_tokens: 1024, system: 'be careful', messages: [{ role: 'user', content: 'read a.ts' }], tools: [{ name: 'read_file', input_schema: { type: 'object', properties: { path: { type: 'string' } } } }] })
      .finalMessage();
    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(message.content[2]).toMatchObject({ id: 'call_r1', name: 'read_file', input: { path: 'a.ts' } });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 500, cache_read_input_tokens: 1500, output_tokens: 30 });
    const wire = upstream.requests[0]!.body!;
    expect(wire).toMatchObject({ model: 'gpt-5.5', max_output_tokens: 1024, input: [{ type: 'message', role: 'developer' }, { type: 'message', role: 'user' }], tools: [{ type: 'function', name: 'read_file' }] });

    // The thinking signature (OpenAI encrypted content in our envelope) goes back to OpenAI intact.
    const thinking = message.content[0] as { type: 'thinking'; thinking: string; signature: string };
    const toolUse = message.content[2] as { type: 'tool_use'; id: string; name: string; input: unknown };
    upstream.push({ text: 'done' });
    await client.messages.create({
      model: 'claude-test',
      max_tokens: 1024,
      messages: [
        { role: 'user', content: 'read a.ts' },
        { role: 'assistant', content: [thinking, { type: 'tool_use', id: toolUse.id, name: toolUse.name, input: toolUse.input }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: toolUse.id, content: 'export {}', is_error: false }] },
      ],
    });
    const second = upstream.requests[1]!.body as { input: Record<string, unknown>[] };
    expect(second.input.map((item) => item['type'])).toEqual(['message', 'reasoning', 'function_call', 'function_call_output']);
    expect(second.input[1]).toMatchObject({ encrypted_content: 'enc_openai' });
  });

  it('renders upstream failures in Anthropic error shape', async () => {
    const upstream = await fake('openai', [{ error: { status: 500 } }]);
    const server = await gateway(target('openai', upstream.url));
    const client = new Anthropic({ apiKey: 'vk_test', baseURL: server.url, maxRetries: 0 });
    const failure = await client.messages.create({ model: 'claude-test', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.APIError);
    expect((failure as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect((failure as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
  });
});
