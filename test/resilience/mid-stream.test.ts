import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { responsesEvents, startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { postResponses, waitUntil } from './helpers.ts';

/** A slow Responses stream that records when the gateway hangs up on it. */
async function startSlowStream(): Promise<{ url: string; closedEarly: number; served: number; close(): Promise<void> }> {
  const state = { closedEarly: 0, served: 0 };
  const server: Server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
    const parts: Buffer[] = [];
    incoming.on('data', (part: Buffer) => parts.push(part));
    incoming.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as { model: string };
      const events = responsesEvents({ output: [{ type: 'message', text: Array.from({ length: 60 }, (_, index) => `word${index}`).join(' ') }], usage: { input_tokens: 300, output_tokens: 60 } }, body.model);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      let index = 0;
      let finished = false;
      response.on('close', () => {
        if (!finished) state.closedEarly++;
      });
      // "stall-model" goes silent after a few events and keeps the connection open.
      const stallAfter = body.model === 'stall-model' ? 6 : Number.POSITIVE_INFINITY;
      const timer = setInterval(() => {
        if (index >= stallAfter && !response.destroyed) return;
        const event = events[index++];
        if (event === undefined || response.destroyed) {
          clearInterval(timer);
          finished = event === undefined;
          if (finished) {
            state.served++;
            response.end();
          }
          return;
        }
        response.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      }, 40);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get closedEarly() {
      return state.closedEarly;
    },
    get served() {
      return state.served;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface SpanRow {
  request_id: string;
  provider: string;
  status_code: number;
  error_code: string;
  fallback_from: string;
  attempts: string;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

describe('failures after the first byte', () => {
  let gatehouse: TestGatehouse;
  let openai: FakeResponsesUpstream;
  let anthropic: FakeUpstream;
  let slow: Awaited<ReturnType<typeof startSlowStream>>;
  const price = { input: 1, cached_input: 0.1, output: 4 };

  beforeAll(async () => {
    openai = await startFakeResponsesUpstream((body) =>
      body.model === 'dies'
        ? { output: [{ type: 'message', text: 'this answer is cut off half way through its words' }], truncateAfterEvents: 6, usage: { input_tokens: 100, output_tokens: 10 } }
        : { output: [{ type: 'message', text: 'fallback text' }] },
    );
    anthropic = await startFakeUpstream('anthropic');
    slow = await startSlowStream();
    gatehouse = await startTestGatehouse({
      providers: {
        openai: { type: 'openai', base_url: openai.url, api_key: 'sk_test' },
        anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk_test' },
        slow: { type: 'openai', base_url: slow.url, api_key: 'sk_test' },
      },
      policy: {
        models: {
          dies: { provider: 'openai', upstream: 'dies', price },
          healthy: { provider: 'openai', upstream: 'healthy', price },
          'claude-dies': { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price },
          'slow-model': { provider: 'slow', upstream: 'slow-model', price },
          'stall-model': { provider: 'slow', upstream: 'stall-model', price },
        },
        cost_centers: {
          platform: {
            allowed_models: ['dies', 'healthy', 'claude-dies', 'slow-model', 'stall-model'],
            fallback: { dies: ['claude-dies'], 'claude-dies': ['healthy'], 'slow-model': ['healthy'], 'stall-model': ['healthy'] },
            affinity_seconds: 60,
          },
        },
        keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
      },
      configure: (config) => {
        config.timeouts.first_byte_ms = 2_000;
        config.timeouts.idle_ms = 1_000;
        // The slow stream takes ~2.8 s in full: longer than the whole request may take.
        config.timeouts.total_ms = 2_000;
      },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await openai?.close();
    await anthropic?.close();
    await slow?.close();
  });

  const spanOf = async (requestId: string) =>
    (await waitForRows<SpanRow>(gatehouse, `SELECT request_id, provider, status_code, error_code, fallback_from, attempts, input_tokens, output_tokens, cost_usd FROM gatehouse.spans WHERE request_id = '${requestId}'`, 1))[0];

  it('pass-through: the upstream dies mid-stream → in-band response.failed, no fallback', async () => {
    const answer = await postResponses(gatehouse.url, 'dies-passthrough', { model: 'dies' });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('event: response.output_text.delta');
    expect(answer.text).not.toContain('event: response.completed');
    expect(answer.text.trimEnd().split('\n\n').at(-1)).toMatch(/^event: response\.failed\ndata: /);
    const failed = JSON.parse(answer.text.trimEnd().split('\n\n').at(-1)!.split('\ndata: ')[1]!) as { response: { status: string; error: { code: string; message: string } } };
    expect(failed.response).toMatchObject({ status: 'failed', error: { code: 'upstream_error' } });
    expect(anthropic.requests).toHaveLength(0);
    const span = await spanOf(answer.headers['x-gatehouse-request-id']!);
    expect(span).toMatchObject({ provider: 'openai', status_code: 200, error_code: 'upstream_error', fallback_from: '' });
    // The span says what broke and where (issue #17: the cause used to be dropped): one attempt, no hop.
    expect(JSON.parse(span?.attempts ?? '[]')).toMatchObject([{ model: 'dies', provider: 'openai', status: 200, code: 'upstream_error', phase: 'body', cause: 'UND_ERR_SOCKET' }]);
  });

  it('translated: the Anthropic upstream drops the connection mid-stream → response.failed, the fallback gets nothing', async () => {
    anthropic.push({ text: 'a long answer that never finishes because the socket goes away', chunkSize: 3, dropAfterFrames: 6 });
    const openaiBefore = openai.requests.length;
    const answer = await postResponses(gatehouse.url, 'dies-translated', { model: 'claude-dies' });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-gatehouse-provider']).toBe('anthropic');
    expect(answer.text).toContain('event: response.output_text.delta');
    expect(answer.text).toContain('event: response.failed');
    expect(answer.text).not.toContain('event: response.completed');
    expect(openai.requests.length).toBe(openaiBefore);
    const span = await spanOf(answer.headers['x-gatehouse-request-id']!);
    expect(span?.status_code).toBe(200);
    expect(span?.error_code).not.toBe('');
    expect(span?.fallback_from).toBe('');
  });

  it('an upstream silent for longer than idle_ms mid-stream → in-band response.failed (upstream_timeout), no fallback', async () => {
    const openaiBefore = openai.requests.length;
    const answer = await postResponses(gatehouse.url, 'stalls', { model: 'stall-model' });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('event: response.output_text.delta');
    expect(answer.text).toContain('event: response.failed');
    expect(answer.text).toContain('upstream_timeout');
    expect(answer.millis).toBeLessThan(1_000 + 2_500); // idle_ms plus undici's coarse (~0.5 s tick) timer
    expect(openai.requests.length).toBe(openaiBefore);
    const span = await spanOf(answer.headers['x-gatehouse-request-id']!);
    expect(span).toMatchObject({ provider: 'slow', status_code: 200, error_code: 'upstream_timeout' });
  });

  it('a stream that outlives total_ms is cut with an in-band response.failed (upstream_timeout)', async () => {
    const answer = await postResponses(gatehouse.url, 'too-long', { model: 'slow-model' });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('event: response.output_text.delta');
    expect(answer.text).not.toContain('event: response.completed');
    expect(answer.text).toContain('event: response.failed');
    expect(answer.text).toContain('upstream_timeout');
    expect(answer.millis).toBeGreaterThanOrEqual(1_900);
    expect(answer.millis).toBeLessThan(2_000 + 1_500);
    const span = await spanOf(answer.headers['x-gatehouse-request-id']!);
    expect(span).toMatchObject({ status_code: 200, error_code: 'upstream_timeout' });
    expect(span?.output_tokens).toBeGreaterThan(0);
  });

  it('client disconnects mid-stream → the upstream request is aborted and the span keeps the partial usage', async () => {
    const closedBefore = slow.closedEarly;
    const servedBefore = slow.served;
    const response = await request(`${gatehouse.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'client-leaves' },
      body: JSON.stringify({ model: 'slow-model', input: 'x'.repeat(4_000), stream: true }),
    });
    expect(response.statusCode).toBe(200);
    const requestId = String(response.headers['x-gatehouse-request-id']);
    let received = '';
    for await (const chunk of response.body) {
      received += (chunk as Buffer).toString('utf8');
      if ((received.match(/event: response\.output_text\.delta/g) ?? []).length >= 5) break; // leaving the loop destroys the body
    }
    expect(await waitUntil(() => slow.closedEarly === closedBefore + 1, 3_000)).toBe(true);
    expect(slow.served).toBe(servedBefore);
    const span = await spanOf(requestId);
    expect(span).toMatchObject({ provider: 'slow', status_code: 200, error_code: 'client_disconnected' });
    // No response.completed ever came: input is estimated from the 4 KB prompt, output from the deltas seen.
    expect(span?.input_tokens).toBeGreaterThanOrEqual(1_000);
    expect(span?.output_tokens).toBeGreaterThanOrEqual(5);
    expect(span?.cost_usd).toBeGreaterThan(0);
  });
});

describe('client disconnect on the translated path', () => {
  let gatehouse: TestGatehouse;
  let anthropic: FakeUpstream;

  beforeAll(async () => {
    anthropic = await startFakeUpstream('anthropic');
    gatehouse = await startTestGatehouse({
      providers: { anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk_test' } },
      policy: {
        models: { claude: { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: { input: 1, cached_input: 0.1, output: 4 } } },
        cost_centers: { platform: { allowed_models: ['claude'] } },
        keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
      },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await anthropic?.close();
  });

  it('the span says client_disconnected and keeps the partial output', async () => {
    anthropic.push({ text: Array.from({ length: 80 }, (_, index) => `w${index}`).join(' '), chunkSize: 4, frameDelayMillis: 30, usage: { input: 500, output: 80 } });
    const response = await request(`${gatehouse.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'translated-leaves' },
      body: JSON.stringify({ model: 'claude', input: 'talk slowly', stream: true }),
    });
    expect(response.statusCode).toBe(200);
    const requestId = String(response.headers['x-gatehouse-request-id']);
    let received = '';
    for await (const chunk of response.body) {
      received += (chunk as Buffer).toString('utf8');
      if ((received.match(/event: response\.output_text\.delta/g) ?? []).length >= 10) break;
    }
    const [span] = await waitForRows<{ status_code: number; error_code: string; input_tokens: number; output_tokens: number }>(
      gatehouse,
      `SELECT status_code, error_code, input_tokens, output_tokens FROM gatehouse.spans WHERE request_id = '${requestId}'`,
      1,
    );
    expect(span).toMatchObject({ status_code: 200, error_code: 'client_disconnected' });
    // Anthropic reports usage in message_delta at the end: input is estimated, output counted from the deltas.
    expect(span?.input_tokens).toBeGreaterThan(0);
    expect(span?.output_tokens).toBeGreaterThanOrEqual(10);
  });
});
