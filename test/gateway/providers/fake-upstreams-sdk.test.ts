import Anthropic from '@anthropic-ai/sdk';
import { BedrockRuntimeClient, ConverseCommand, ConverseStreamCommand } from '@aws-sdk/client-bedrock-runtime';
import { GoogleGenAI } from '@google/genai';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream } from '../../helpers/fake-upstreams/index.ts';

// Each fake is checked with the provider's official SDK as the client: if the SDK parses it, the
// fake speaks the real wire format (and so do the adapters tested against it).
let upstream: FakeUpstream | undefined;
afterEach(async () => {
  await upstream?.close();
  upstream = undefined;
});

const toolTurn = { text: 'Running it.', toolCalls: [{ name: 'exec_command', arguments: { cmd: 'ls -la' } }, { name: 'exec_command', arguments: { cmd: 'pwd' } }], usage: { input: 1200, cached: 1000, output: 30 } };

describe('fake OpenAI Responses upstream, read by the openai SDK', () => {
  it('streams text, function and custom tool calls that the SDK assembles', async () => {
    upstream = await startFakeUpstream('openai', { script: [{ ...toolTurn, customToolCalls: [{ name: 'apply_patch', input: '*** Begin Patch\n*** End Patch\n' }] }] });
    const client = new OpenAI({ apiKey: 'sk_test', baseURL: `${upstream.url}/v1`, maxRetries: 0 });
    const stream = client.responses.stream({ model: 'gpt-5.5', input: 'hi' });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    const final = await stream.finalResponse();
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(final.output_text).toBe('Running it.');
    expect(final.output.map((item) => item.type)).toEqual(['message', 'function_call', 'function_call', 'custom_tool_call']);
    expect(final.usage?.input_tokens_details.cached_tokens).toBe(1000);
    expect(upstream.requests[0]?.url).toBe('/v1/responses');
  });

  it('surfaces a 429 as the SDK RateLimitError', async () => {
    upstream = await startFakeUpstream('openai', { script: [{ error: { status: 429, message: 'slow down' } }] });
    const client = new OpenAI({ apiKey: 'sk_test', baseURL: `${upstream.url}/v1`, maxRetries: 0 });
    await expect(client.responses.create({ model: 'gpt-5.5', input: 'hi' })).rejects.toBeInstanceOf(OpenAI.RateLimitError);
  });
});

describe('fake Chat Completions upstream, read by the openai SDK', () => {
  it('streams parallel tool calls by index and a usage chunk', async () => {
    upstream = await startFakeUpstream('openai-chat', { script: [toolTurn] });
    const client = new OpenAI({ apiKey: 'sk_test', baseURL: `${upstream.url}/v1`, maxRetries: 0 });
    const stream = client.chat.completions.stream({ model: 'llama', messages: [{ role: 'user', content: 'hi' }], stream_options: { include_usage: true } });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe('Running it.');
    expect(final.choices[0]?.message.tool_calls?.map((call) => (call.type === 'function' ? call.function.arguments : ''))).toEqual(['{"cmd":"ls -la"}', '{"cmd":"pwd"}']);
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.usage?.prompt_tokens_details?.cached_tokens).toBe(1000);
  });
});

describe('fake Anthropic upstream, read by @anthropic-ai/sdk', () => {
  it('streams thinking, text and tool_use with usage that excludes cache reads', async () => {
    upstream = await startFakeUpstream('anthropic', { script: [{ ...toolTurn, reasoning: { text: 'Let me think.', signature: 'sig_abc' } }] });
    const client = new Anthropic({ apiKey: 'sk_test', baseURL: upstream.url, maxRetries: 0 });
    const message = await client.messages.stream({ model: 'claude-test', max_tokens: 1000, messages: [{ role: 'user', content: 'hi' }] }).finalMessage();
    expect(message.content.map((block) => block.type)).toEqual(['thinking', 'text', 'tool_use', 'tool_use']);
    expect(message.content[0]).toMatchObject({ thinking: 'Let me think.', signature: 'sig_abc' });
    expect(message.content[2]).toMatchObject({ name: 'exec_command', input: { cmd: 'ls -la' } });
    expect(message.stop_reason).toBe('tool_use');
    expect(message.usage).toMatchObject({ input_tokens: 200, cache_read_input_tokens: 1000, output_tokens: 30 });
  });

  it('gives the SDK an overloaded error on 529', async () => {
    upstream = await startFakeUpstream('anthropic', { script: [{ error: { status: 529 } }] });
    const client = new Anthropic({ apiKey: 'sk_test', baseURL: upstream.url, maxRetries: 0 });
    const failure = await client.messages.create({ model: 'claude', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.APIError);
    expect((failure as InstanceType<typeof Anthropic.APIError>).status).toBe(529);
  });
});

describe('fake Gemini upstream, read by @google/genai', () => {
  it('streams text and id-less function calls ending in STOP', async () => {
    upstream = await startFakeUpstream('gemini', { script: [toolTurn] });
    const client = new GoogleGenAI({ apiKey: 'sk_test', httpOptions: { baseUrl: upstream.url } });
    const stream = await client.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'hi' });
    let text = '';
    const calls: unknown[] = [];
    let finish: string | undefined;
    for await (const chunk of stream) {
      text += chunk.text ?? '';
      calls.push(...(chunk.functionCalls ?? []));
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
    }
    expect(text).toBe('Running it.');
    expect(calls).toEqual([{ name: 'exec_command', args: { cmd: 'ls -la' } }, { name: 'exec_command', args: { cmd: 'pwd' } }]);
    expect(finish).toBe('STOP');
    expect(upstream.requests).toHaveLength(1);
    expect(upstream.requests[0]?.url).toBe('/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse');
    expect(upstream.requests[0]?.headers['x-goog-api-key']).toBe('sk_test');
  });

  it('answers non-streaming generateContent', async () => {
    upstream = await startFakeUpstream('gemini', { script: [{ text: 'hello', usage: { input: 10, cached: 4, output: 2 } }] });
    const client = new GoogleGenAI({ apiKey: 'sk_test', httpOptions: { baseUrl: upstream.url } });
    const response = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    expect(response.text).toBe('hello');
    expect(response.usageMetadata?.cachedContentTokenCount).toBe(4);
  });
});

describe('fake Bedrock upstream, read by @aws-sdk/client-bedrock-runtime', () => {
  const client = (url: string): BedrockRuntimeClient =>
    new BedrockRuntimeClient({ region: 'us-east-1', endpoint: url, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' }, requestHandler: new NodeHttpHandler(), maxAttempts: 1 });

  it('decodes the binary event stream: reasoning, text, tool use, usage', async () => {
    upstream = await startFakeUpstream('bedrock', { script: [{ ...toolTurn, reasoning: { text: 'hmm', signature: 'sig_b' } }] });
    const response = await client(upstream.url).send(new ConverseStreamCommand({ modelId: 'anthropic.claude-sonnet-4-5-v1:0', messages: [{ role: 'user', content: [{ text: 'hi' }] }] }));
    const seen: string[] = [];
    let text = '';
    let toolInput = '';
    let usage: unknown;
    for await (const event of response.stream ?? []) {
      seen.push(Object.keys(event).filter((key) => key !== '$unknown')[0] ?? '?');
      text += event.contentBlockDelta?.delta?.text ?? '';
      toolInput += event.contentBlockDelta?.delta?.toolUse?.input ?? '';
      if (event.metadata !== undefined) usage = event.metadata.usage;
    }
    expect(seen[0]).toBe('messageStart');
    expect(seen.slice(-2)).toEqual(['messageStop', 'metadata']);
    expect(text).toBe('Running it.');
    expect(toolInput).toBe('{"cmd":"ls -la"}{"cmd":"pwd"}');
    expect(usage).toMatchObject({ inputTokens: 200, cacheReadInputTokens: 1000, outputTokens: 30 });
    expect(upstream.requests[0]?.url).toBe('/model/anthropic.claude-sonnet-4-5-v1%3A0/converse-stream');
    expect(upstream.requests[0]?.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTEST\//);
  });

  it('surfaces in-stream exceptions and HTTP error types the SDK understands', async () => {
    upstream = await startFakeUpstream('bedrock', { script: [{ text: 'abcdefgh', midStreamError: { type: 'throttlingException', message: 'too fast' } }, { error: { status: 429 } }] });
    const streamed = await client(upstream.url).send(new ConverseStreamCommand({ modelId: 'm', messages: [{ role: 'user', content: [{ text: 'hi' }] }] }));
    const failure = await (async () => {
      for await (const _event of streamed.stream ?? []) void _event;
    })().catch((error: unknown) => error);
    expect((failure as Error).name).toBe('ThrottlingException');
    const http = await client(upstream.url).send(new ConverseCommand({ modelId: 'm', messages: [{ role: 'user', content: [{ text: 'hi' }] }] })).catch((error: unknown) => error);
    expect((http as Error).name).toBe('ThrottlingException');
  });
});
