import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { request } from 'undici';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startFakeUpstream, type FakeUpstream } from '../helpers/fake-upstreams/index.ts';
import { startTestGatehouse, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

const REQUEST_TIMEOUT_MS = 1_000;
const BODY_LIMIT = 2 * 1024 * 1024;

/** Sends raw bytes on a fresh connection and returns what the server answered before closing. */
function rawExchange(url: string, parts: (Buffer | string)[], pauseMillis = 0, timeoutMillis = 15_000): Promise<{ text: string; millis: number }> {
  const { hostname, port } = new URL(url);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMillis} ms; got: ${text.slice(0, 200)}`));
    }, timeoutMillis);
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ text, millis: performance.now() - started });
    });
    socket.on('connect', async () => {
      for (const part of parts) {
        socket.write(part);
        if (pauseMillis > 0) await new Promise((wait) => setTimeout(wait, pauseMillis));
      }
    });
  });
}

describe('hostile input gets a structured 4xx and the gateway keeps serving', () => {
  let gatehouse: TestGatehouse;
  let openai: FakeResponsesUpstream;
  let anthropic: FakeUpstream;
  const price = { input: 1, cached_input: 0.1, output: 4 };

  beforeAll(async () => {
    openai = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'still here' }] }));
    anthropic = await startFakeUpstream('anthropic');
    anthropic.push(...Array.from({ length: 20 }, () => ({ text: 'still here' })));
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: openai.url, api_key: 'sk_test' }, anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk_test' } },
      policy: {
        models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price }, claude: { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price } },
        cost_centers: { platform: { allowed_models: ['gpt-5.5', 'claude'] } },
        keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
      },
      configure: (config) => {
        config.server.request_timeout_ms = REQUEST_TIMEOUT_MS;
        config.server.body_limit_bytes = BODY_LIMIT;
      },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await openai?.close();
    await anthropic?.close();
  });

  const post = (body: string | Buffer, model = 'gpt-5.5') =>
    request(`${gatehouse.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': `hostile-${model}` },
      body,
    }).then(async (response) => ({ status: response.statusCode, text: await response.body.text() }));

  const stillServing = async () => {
    for (const model of ['gpt-5.5', 'claude']) {
      const answer = await post(JSON.stringify({ model, input: 'are you alive?', stream: true }), model);
      expect(answer.status).toBe(200);
      expect(answer.text).toContain('still here');
    }
  };

  const expectError = (answer: { status: number; text: string }, status: number, code: string) => {
    expect(answer.status).toBe(status);
    const body = JSON.parse(answer.text) as { error: { code: string; message: string; request_id: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).toMatch(/^gatehouse: /);
    return body.error;
  };

  it('a body over the limit → 413 payload_too_large', async () => {
    expectError(await post(JSON.stringify({ model: 'gpt-5.5', input: 'x'.repeat(BODY_LIMIT) })), 413, 'payload_too_large');
    await stillServing();
  });

  it('headers over 16 KiB → 431 from the HTTP layer', async () => {
    const answer = await rawExchange(gatehouse.url, [`POST /v1/responses HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TEST_KEY}\r\nx-padding: ${'a'.repeat(20 * 1024)}\r\ncontent-length: 2\r\n\r\n{}`]);
    expect(answer.text).toMatch(/^HTTP\/1\.1 431 /);
    await stillServing();
  });

  it('a client that stalls mid-body is cut off after request_timeout_ms (408)', async () => {
    const body = JSON.stringify({ model: 'gpt-5.5', input: 'slowly', stream: true });
    const head = `POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nauthorization: Bearer ${TEST_KEY}\r\ncontent-length: ${body.length}\r\n\r\n`;
    const answer = await rawExchange(gatehouse.url, [head, body.slice(0, 10)], 0, 40_000);
    expect(answer.text).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer.millis).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 50);
    expect(answer.millis).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
    await stillServing();
  });

  it('deeply nested JSON → 400 invalid_request, on the pass-through and the translated path', async () => {
    const depth = 100_000;
    const nested = `${'['.repeat(depth)}${']'.repeat(depth)}`;
    for (const model of ['gpt-5.5', 'claude']) {
      const answer = await post(`{"model":"${model}","stream":true,"input":[{"type":"message","role":"user","content":${nested}}]}`, model);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(500);
      expect(JSON.parse(answer.text).error.code).toBe('invalid_request');
    }
    await stillServing();
  });

  it('invalid UTF-8 in the body → 400 invalid_request, never forwarded', async () => {
    const before = openai.requests.length;
    const bytes = Buffer.concat([Buffer.from('{"model":"gpt-5.5","stream":true,"input":"bad '), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);
    const error = expectError(await post(bytes), 400, 'invalid_request');
    expect(error.message).toContain('UTF-8');
    expect(openai.requests.length).toBe(before);
    await stillServing();
  });

  it('a huge tool schema (1,000 tools, deep nesting inside the limit) → served or a structured 4xx, never a crash', async () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let level = 0; level < 200; level++) schema = { type: 'object', properties: { [`level${level}`]: schema } };
    const tools = Array.from({ length: 1_000 }, (_, index) => ({ type: 'function', name: `tool_${index}`, description: 'd'.repeat(200), parameters: index === 0 ? schema : { type: 'object', properties: { a: { type: 'string' } } } }));
    for (const model of ['gpt-5.5', 'claude']) {
      const answer = await post(JSON.stringify({ model, input: 'use a tool', tools, stream: true }), model);
      if (answer.status === 200) expect(answer.text).toContain('still here');
      else {
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
        expect(JSON.parse(answer.text).error.message).toMatch(/^gatehouse: /);
      }
    }
    await stillServing();
  });
});
