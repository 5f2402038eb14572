import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, TEST_ADMIN_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';

/**
 * The route sets are encapsulated plugins (gateway/routes/*): what each one owns (body parser, request
 * fields, the WebSocket refusal) must reach its own routes, and what is shared (error handler, the
 * admin JSON parser, the OpenAPI description) every route set.
 */
describe('route sets as plugins', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }] }));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } } });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('answers GET /v1/responses with the catalog 426 body, byte for byte as before', async () => {
    const response = await fetch(`${gatehouse.url}/v1/responses`);
    expect(response.status).toBe(426);
    expect(response.headers.get('upgrade')).toBe('HTTP/1.1');
    expect(await response.text()).toBe('{"error":{"message":"gatehouse: use HTTP POST (no WebSocket transport)","type":"invalid_request_error","code":"upgrade_required","param":null}}');
  });

  it('answers a WebSocket upgrade on the raw socket with the catalog 426 body', async () => {
    const port = Number(new URL(gatehouse.url).port);
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('GET /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
      });
      let text = '';
      socket.on('data', (chunk) => (text += chunk.toString()));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    const body = '{"error":{"message":"gatehouse: WebSocket transport is not offered; use HTTP POST","type":"invalid_request_error","code":"upgrade_required","param":null}}';
    expect(answer).toBe(`HTTP/1.1 426 Upgrade Required\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  });

  it('shapes a denial for Codex on the turn routes only: 400 on POST, the contract 401 on GET /v1/models', async () => {
    const headers = { authorization: 'Bearer vk_unknown', originator: 'codex_cli_rs', 'content-type': 'application/json' };
    const turn = await fetch(`${gatehouse.url}/v1/responses`, { method: 'POST', headers, body: JSON.stringify({ model: 'gpt-5.5', input: 'hi' }) });
    expect(turn.status).toBe(400);
    expect(turn.headers.get('x-gatehouse-denied-status')).toBe('401');
    expect(((await turn.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
    const models = await fetch(`${gatehouse.url}/v1/models`, { headers });
    expect(models.status).toBe(401);
    expect(((await models.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
  });

  it('parses admin bodies with the shared JSON parser (one object) and client bodies with the client one', async () => {
    const admin = await fetch(`${gatehouse.url}/admin/keys`, { method: 'POST', headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '[1]' });
    expect(admin.status).toBe(400);
    expect(((await admin.json()) as { error: { message: string } }).error.message).toBe('gatehouse: the JSON body must be an object');
    const client = await fetch(`${gatehouse.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: 'Bearer vk_test', 'content-type': 'application/json' }, body: '' });
    expect(client.status).toBe(400);
    expect(((await client.json()) as { error: { message: string } }).error.message).toBe('gatehouse: empty JSON body');
  });

  it('renders an unknown route through the catalog in the path protocol', async () => {
    const response = await fetch(`${gatehouse.url}/v1/messages/nope`, { method: 'POST' });
    expect(response.status).toBe(404);
    const body = (await response.json()) as { type: string; error: { type: string; code: string } };
    expect(body.type).toBe('error');
    expect(body.error).toMatchObject({ type: 'not_found_error', code: 'not_found' });
  });
});
