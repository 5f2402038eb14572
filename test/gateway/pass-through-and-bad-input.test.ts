import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, TEST_ADMIN_TOKEN, TEST_ANALYST_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

const fixture = (turn: number) => JSON.parse(readFileSync(new URL(`../fixtures/inbound/codex-cli/responses-request-turn${turn}.json`, import.meta.url), 'utf8')) as { headers: Record<string, string>; body: Record<string, unknown> };

describe('pass-through fidelity and bad input', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream((body) =>
      body.model === 'gpt-5.5'
        ? { output: [{ type: 'reasoning', summary: 'thinking', encryptedContent: 'gAAAA-opaque' }, { type: 'message', text: 'Here is a longer answer that streams in several deltas, as real ones do.' }, { type: 'function_call', name: 'exec_command', arguments: '{"cmd":"ls -la"}' }], usage: { input_tokens: 10_000, cached_tokens: 8_000, output_tokens: 300, reasoning_tokens: 120 } }
        : { output: [{ type: 'message', text: 'ok' }] },
    );
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } } });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  const post = (path: string, body: string | Buffer, headers: Record<string, string> = {}) =>
    request(`${gatehouse.url}${path}`, { method: 'POST', body, headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, ...headers } });

  it('streams the upstream bytes to the client unchanged and in order, with the contract headers', async () => {
    const { headers: codexHeaders, body } = fixture(3);
    const { authorization: _authorization, 'content-length': _length, 'accept-encoding': _encoding, ...headers } = codexHeaders;
    const response = await post('/v1/responses', JSON.stringify(body), headers);
    const received = Buffer.from(await response.body.arrayBuffer());
    expect(response.statusCode).toBe(200);
    expect(received.equals(upstream.sentStreams.at(-1) ?? Buffer.alloc(0))).toBe(true);
    expect(response.headers['x-gatehouse-served-model']).toBe('gpt-5.5');
    expect(response.headers['x-gatehouse-provider']).toBe('openai');
    expect(response.headers['x-gatehouse-policy-version']).toBe('1');
    expect(response.headers['x-gatehouse-budget-stage']).toBe('ok');
    expect(String(response.headers['x-gatehouse-request-id'])).toMatch(/^req_/);
  });

  it('forwards a request with unknown tool and item types byte for byte (namespace, tool_search, web_search, custom, future ones)', async () => {
    const { body } = fixture(1);
    const tools = [...(body.tools as unknown[]), { type: 'namespace', name: 'multi_agent_v1', tools: [{ type: 'function', name: 'spawn', parameters: { type: 'object' } }] }, { type: 'tool_type_from_2027', anything: { nested: [1, 2, 3] } }];
    const input = [...(body.input as unknown[]), { type: 'item_type_from_2027', payload: 'x' }];
    const sent = JSON.stringify({ ...body, tools, input, unknown_top_level_field: { keep: true } });
    const response = await post('/v1/responses', sent);
    await response.body.arrayBuffer();
    expect(response.statusCode).toBe(200);
    const seen = upstream.requests.at(-1);
    expect(seen?.rawBody.toString('utf8')).toBe(sent);
    expect(seen?.headers.authorization).toBe('Bearer sk_test');
  });

  it('records usage with reasoning and cached tokens from the stream on the span', async () => {
    const response = await post('/v1/responses', JSON.stringify({ model: 'gpt-5.5', input: 'hello', stream: true }), { 'x-session-id': 'span-usage-session' });
    await response.body.arrayBuffer();
    const rows = await waitForRows<Record<string, number | string>>(gatehouse, `SELECT * FROM gatehouse.spans WHERE session_id = 'span-usage-session'`, 1);
    expect(rows[0]).toMatchObject({ input_tokens: 10_000, cached_input_tokens: 8_000, output_tokens: 300, reasoning_tokens: 120, tool_call_count: 1, inbound_protocol: 'openai-responses', stream: true });
    expect(rows[0]?.cost_usd).toBeCloseTo((2_000 * 1.25 + 8_000 * 0.125 + 300 * 10) / 1e6, 9);
    expect(Number(rows[0]?.ttfb_ms)).toBeGreaterThan(0);
  });

  it('answers non-streaming requests with the upstream body', async () => {
    const response = await post('/v1/responses', JSON.stringify({ model: 'gpt-5.5', input: 'hello' }));
    const body = (await response.body.json()) as { status: string; usage: { input_tokens: number } };
    expect(response.statusCode).toBe(200);
    expect(body.status).toBe('completed');
    expect(body.usage.input_tokens).toBe(10_000);
  });

  it('rejects malformed JSON with 400 invalid_request naming the problem', async () => {
    const response = await post('/v1/responses', '{"model": "gpt-5.5", ');
    const body = (await response.body.json()) as { error: { code: string; message: string; request_id: string } };
    expect(response.statusCode).toBe(400);
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain('malformed JSON');
    expect(body.error.request_id).toMatch(/^req_/);
  });

  it('rejects an unknown key with 401 and a missing one with 401', async () => {
    const unknown = await post('/v1/responses', '{"model":"gpt-5.5"}', { authorization: 'Bearer vk_nobody' });
    expect(unknown.statusCode).toBe(401);
    expect(((await unknown.body.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const missing = await request(`${gatehouse.url}/v1/responses`, { method: 'POST', body: '{"model":"gpt-5.5"}', headers: { 'content-type': 'application/json' } });
    expect(missing.statusCode).toBe(401);
    await missing.body.arrayBuffer();
  });

  it('rejects an oversized body with 413 payload_too_large and keeps serving', async () => {
    const huge = Buffer.alloc(gatehouse.config.server.body_limit_bytes + 1024, 'a');
    const response = await post('/v1/responses', huge).catch((error: unknown) => error as Error);
    if (response instanceof Error) throw response;
    expect(response.statusCode).toBe(413);
    expect(((await response.body.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
    const after = await post('/v1/responses', JSON.stringify({ model: 'gpt-5.1-mini', input: 'still there?' }));
    expect(after.statusCode).toBe(200);
    await after.body.arrayBuffer();
  });

  it('answers a WebSocket upgrade on /v1/responses with 426 so clients fall back to HTTP', async () => {
    const { connect } = await import('node:net');
    const port = new URL(gatehouse.url).port;
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`);
      });
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer.startsWith('HTTP/1.1 426')).toBe(true);
  });

  it('lists only the models the key may use', async () => {
    const response = await request(`${gatehouse.url}/v1/models`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
    const body = (await response.body.json()) as { data: { id: string }[] };
    expect(body.data.map((model) => model.id)).toEqual(['gpt-5.5', 'gpt-5.1-mini']);
  });

  it('creates, uses and revokes a virtual key through the admin API; revocation is immediate', async () => {
    const created = await request(`${gatehouse.url}/admin/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ developer: 'bob', cost_center: 'platform', repo: 'acme/api' }),
    });
    const key = (await created.body.json()) as { id: string; key: string };
    expect(created.statusCode).toBe(201);
    expect(key.key).toMatch(/^gh_/);
    const stored = await gatehouse.clickhouse.query({ query: `SELECT key_sha256 FROM gatehouse.virtual_keys FINAL WHERE id = '${key.id}'`, format: 'JSONEachRow' });
    const [row] = await stored.json<{ key_sha256: string }>();
    expect(row?.key_sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(row)).not.toContain(key.key);

    const used = await post('/v1/responses', JSON.stringify({ model: 'gpt-5.1-mini', input: 'hi' }), { authorization: `Bearer ${key.key}` });
    expect(used.statusCode).toBe(200);
    await used.body.arrayBuffer();
    const revoked = await request(`${gatehouse.url}/admin/keys/${key.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}` } });
    expect(revoked.statusCode).toBe(200);
    await revoked.body.arrayBuffer();
    const refused = await post('/v1/responses', JSON.stringify({ model: 'gpt-5.1-mini', input: 'hi' }), { authorization: `Bearer ${key.key}` });
    expect(refused.statusCode).toBe(401);
    await refused.body.arrayBuffer();
  });

  it('protects admin routes: no token 401, analyst cannot create keys, analyst can read SQL but not write', async () => {
    const anonymous = await request(`${gatehouse.url}/admin/keys`);
    expect(anonymous.statusCode).toBe(401);
    await anonymous.body.arrayBuffer();
    const analystCreate = await request(`${gatehouse.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ANALYST_TOKEN}`, 'content-type': 'application/json' }, body: '{}' });
    expect(analystCreate.statusCode).toBe(403);
    await analystCreate.body.arrayBuffer();
    const read = await request(`${gatehouse.url}/admin/sql`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ANALYST_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: 'SELECT count() AS n FROM gatehouse.spans' }) });
    expect(read.statusCode).toBe(200);
    expect(((await read.body.json()) as { rows: { n: number }[] }).rows[0]?.n).toBeGreaterThan(0);
    const write = await request(`${gatehouse.url}/admin/sql`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ANALYST_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify({ query: 'DROP TABLE gatehouse.spans' }) });
    expect(write.statusCode).toBe(400);
    expect(((await write.body.json()) as { error: { message: string } }).error.message).toMatch(/read-?only/i);
  });

  it('exposes health, readiness and Prometheus metrics', async () => {
    expect((await request(`${gatehouse.url}/healthz`)).statusCode).toBe(200);
    const ready = await request(`${gatehouse.url}/readyz`);
    expect(ready.statusCode).toBe(200);
    await ready.body.arrayBuffer();
    const metrics = await (await request(`${gatehouse.url}/metrics`)).body.text();
    expect(metrics).toContain('gatehouse_requests_total');
    expect(metrics).toContain('gatehouse_request_duration_seconds_bucket');
    expect(metrics).toContain('gatehouse_spans_queued');
  });
});

describe('Codex remote compaction', () => {
  it('passes POST /v1/responses/compact through to the upstream compact endpoint and accounts it', async () => {
    const upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'compacted summary' }], usage: { input_tokens: 30_000, output_tokens: 900 } }));
    const gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } } });
    try {
      const response = await request(`${gatehouse.url}/v1/responses/compact`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'compact-session' },
        body: JSON.stringify({ model: 'gpt-5.5', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'long history' }] }] }),
      });
      expect(response.statusCode).toBe(200);
      await response.body.arrayBuffer();
      expect(upstream.requests[0]?.path).toBe('/v1/responses/compact');
      const rows = await waitForRows<{ input_tokens: number }>(gatehouse, `SELECT input_tokens FROM gatehouse.spans WHERE session_id = 'compact-session'`, 1);
      expect(rows[0]?.input_tokens).toBe(30_000);
    } finally {
      await gatehouse.stop();
      await upstream.close();
    }
  });
});
