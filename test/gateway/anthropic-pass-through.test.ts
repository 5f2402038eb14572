import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

/** Headers Claude Code 2.1.332 sends (captured), minus the key and framing. */
const CLAUDE_CODE_HEADERS = {
  'content-type': 'application/json',
  accept: 'application/json',
  'user-agent': 'claude-cli/2.1.332 (external, sdk-cli)',
  'x-app': 'cli',
  'anthropic-version': '2023-06-01',
  'anthropic-beta': 'claude-code-20250219,interleaved-thinking-2025-05-14,context-management-2025-06-27',
};

const policy = {
  models: {
    'claude-sonnet-4-5': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } },
    // An alias: the gateway rewrites `model` and nothing else.
    'house-claude': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: { input: 3, cached_input: 0.3, cache_write: 3.75, output: 15 } },
  },
  cost_centers: { platform: { allowed_models: ['claude-sonnet-4-5', 'house-claude'] } },
  keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
};

const toolTurn = {
  reasoning: { text: 'I should write the file.', signature: 'sig_only_valid_for_anthropic' },
  text: 'Writing hello.txt — “quoted” ✓ now.',
  toolCalls: [{ name: 'Write', arguments: { file_path: '/tmp/hello.txt', content: 'hello world\n' }, id: 'toolu_01' }],
  usage: { input: 5000, cached: 3000, cacheWrite: 1000, output: 77 },
  chunkSize: 3,
};

describe('Anthropic client to an Anthropic upstream: same-protocol pass-through', () => {
  let upstream: FakeUpstream;
  let gatehouse: TestGatehouse;
  beforeAll(async () => {
    upstream = await startFakeUpstream('anthropic');
    gatehouse = await startTestGatehouse({ providers: { anthropic: { type: 'anthropic', base_url: upstream.url, api_key: 'sk_test' } }, policy });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  const post = (body: string, headers: Record<string, string> = {}, path = '/v1/messages?beta=true', base: Record<string, string> = CLAUDE_CODE_HEADERS) =>
    request(`${gatehouse.url}${path}`, { method: 'POST', body, headers: { ...base, 'x-api-key': TEST_KEY, ...headers } });

  it('sends the client bytes to /v1/messages with the provider key as x-api-key and the client version headers; streams the recorded bytes back unchanged', async () => {
    upstream.push(toolTurn);
    const sent = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 32000, stream: true, metadata: { user_id: JSON.stringify({ device_id: 'd1', account_uuid: '', session_id: 'cc-session-bytes' }) }, context_management: { edits: [] }, thinking: { type: 'adaptive' }, messages: [{ role: 'user', content: 'create hello.txt' }], future_field_2027: { keep: [1, 2] } });
    const response = await post(sent, { 'x-claude-code-session-id': 'cc-session-bytes' });
    const received = Buffer.from(await response.body.arrayBuffer());
    expect(response.statusCode).toBe(200);
    expect(String(response.headers['content-type'])).toContain('text/event-stream');
    expect(response.headers['x-gatehouse-provider']).toBe('anthropic');

    // Byte for byte: the fake's recorded stream is exactly what the client got.
    expect(upstream.sent.at(-1)?.length).toBeGreaterThan(500);
    expect(received.equals(upstream.sent.at(-1) ?? Buffer.alloc(0))).toBe(true);

    const seen = upstream.requests.at(-1);
    expect(seen?.url).toBe('/v1/messages?beta=true');
    expect(seen?.rawBody).toBe(sent);
    expect(seen?.headers['x-api-key']).toBe('sk_test');
    expect(seen?.headers.authorization).toBeUndefined();
    expect(seen?.headers['anthropic-version']).toBe('2023-06-01');
    expect(seen?.headers['anthropic-beta']).toBe(CLAUDE_CODE_HEADERS['anthropic-beta']);

    const rows = await waitForRows<Record<string, unknown>>(gatehouse, `SELECT * FROM gatehouse.spans WHERE session_id = 'cc-session-bytes'`, 1);
    // Input the OpenAI way: 1000 uncached + 3000 read + 1000 written.
    expect(rows[0]).toMatchObject({ inbound_protocol: 'anthropic-messages', provider: 'anthropic', provider_type: 'anthropic', status_code: 200, error_code: '', input_tokens: 5000, cached_input_tokens: 3000, cache_write_tokens: 1000, output_tokens: 77, tool_call_count: 1 });
    expect(Number(rows[0]?.cost_usd)).toBeCloseTo((1000 * 3 + 3000 * 0.3 + 1000 * 3.75 + 77 * 15) / 1e6, 9);
  });

  it('answers a non-streaming request with the upstream body and reads its usage and tool calls', async () => {
    upstream.push(toolTurn);
    const response = await post(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 1024, messages: [{ role: 'user', content: 'hi' }] }), { 'x-claude-code-session-id': 'cc-session-whole' });
    const text = await response.body.text();
    expect(response.statusCode).toBe(200);
    expect(text).toBe(upstream.sent.at(-1)?.toString('utf8'));
    const rows = await waitForRows<Record<string, unknown>>(gatehouse, `SELECT * FROM gatehouse.spans WHERE session_id = 'cc-session-whole'`, 1);
    expect(rows[0]).toMatchObject({ input_tokens: 5000, cached_input_tokens: 3000, cache_write_tokens: 1000, output_tokens: 77, tool_call_count: 1, stream: false });
  });

  it('rewrites only the model of an alias and sends the provider default version when the client sends none', async () => {
    upstream.push({ text: 'ok' });
    const response = await post(JSON.stringify({ model: 'house-claude', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }), {}, '/v1/messages', { 'content-type': 'application/json' });
    await response.body.arrayBuffer();
    expect(response.statusCode).toBe(200);
    const seen = upstream.requests.at(-1);
    expect(seen?.url).toBe('/v1/messages');
    expect(seen?.body).toEqual({ model: 'claude-sonnet-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(seen?.headers['anthropic-version']).toBe('2023-06-01');
  });

  it('works for the Anthropic SDK, streaming: the final message carries the tool call and usage', async () => {
    upstream.push(toolTurn);
    const client = new Anthropic({ apiKey: TEST_KEY, baseURL: gatehouse.url, maxRetries: 0 });
    const final = await client.messages.stream({ model: 'claude-sonnet-4-5', max_tokens: 256, messages: [{ role: 'user', content: 'write it' }] }).finalMessage();
    expect(final.content.map((block) => block.type)).toEqual(['thinking', 'text', 'tool_use']);
    expect(final.content[2]).toMatchObject({ type: 'tool_use', id: 'toolu_01', name: 'Write', input: { file_path: '/tmp/hello.txt', content: 'hello world\n' } });
    expect(final.usage).toMatchObject({ input_tokens: 1000, cache_read_input_tokens: 3000, cache_creation_input_tokens: 1000, output_tokens: 77 });
  });

  it('an upstream 429 comes back Anthropic-shaped with the provider named; a cut stream ends with an error event, never a clean finish', async () => {
    upstream.push({ error: { status: 429, message: 'Number of request tokens has exceeded your per-minute rate limit', retryAfter: '2' } });
    const limited = await post(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16, stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    const body = (await limited.body.json()) as { type: string; error: { type: string; message: string } };
    expect(limited.statusCode).toBe(429);
    // The upstream's rate limit passes: the client may retry it (no x-should-retry: false).
    expect(limited.headers['x-should-retry']).toBeUndefined();
    expect(body.type).toBe('error');
    expect(body.error.type).toBe('rate_limit_error');
    expect(body.error.message).toContain('anthropic');

    upstream.push({ text: 'a long answer that will be cut off in the middle', dropAfterFrames: 5 });
    const cut = await post(JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 64, stream: true, messages: [{ role: 'user', content: 'hi' }] }), { 'x-claude-code-session-id': 'cc-session-cut' });
    const text = await cut.body.text();
    expect(text.startsWith(upstream.sent.at(-1)?.toString('utf8') ?? 'x')).toBe(true);
    expect(text).toMatch(/event: error\ndata: \{"type":"error","error":\{"type":"api_error","message":"gatehouse: provider \\"anthropic\\" stream/);
    expect(text).not.toContain('event: message_stop');
    const rows = await waitForRows<Record<string, unknown>>(gatehouse, `SELECT error_code, input_tokens FROM gatehouse.spans WHERE session_id = 'cc-session-cut'`, 1);
    expect(rows[0]?.error_code).toBe('upstream_error');
    expect(Number(rows[0]?.input_tokens)).toBe(100);
  });

  it('a denial says x-should-retry: false, so SDK clients show it after one request', async () => {
    const denied = await post(JSON.stringify({ model: 'claude-opus-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }));
    const body = (await denied.body.json()) as { error: { type: string; code: string } };
    expect(denied.statusCode).toBe(403);
    expect(body.error).toMatchObject({ type: 'permission_error', code: 'model_not_allowed' });
    expect(denied.headers['x-should-retry']).toBe('false');
  });
});
