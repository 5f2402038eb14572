import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { request } from 'undici';
import { renderOpenAIChatTurn } from '../helpers/fake-upstreams/fake-openai-chat.ts';
import { renderOpenAIResponsesTurn } from '../helpers/fake-upstreams/fake-openai-responses.ts';
import type { RecordedRequest } from '../helpers/fake-upstreams/scripted-turn.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { postResponses } from './helpers.ts';

/**
 * What the fake upstream does with the next requests, per model:
 * - `ok`: answers (Responses or Chat Completions, by path);
 * - `stall`: sends the SSE headers and nothing more, until the client hangs up;
 * - `fail`: 502;
 * - `reset-reused`: resets a kept-alive connection (TCP RST) when a request arrives on it after an
 *   earlier one, before any answer byte; answers on fresh connections;
 * - `reset-after-byte`: sends the headers and a first event, then resets the connection.
 */
type Mode = 'ok' | 'stall' | 'fail' | 'reset-reused' | 'reset-after-byte';

interface ControlledUpstream {
  url: string;
  modes: Map<string, Mode>;
  /** Requests received per model (including those reset). */
  received: Map<string, number>;
  /** Resolves once `count` requests of `model` are stalled. */
  stalled(model: string, count: number): Promise<void>;
  /** Resets the connections of `reset-after-byte` answers. */
  resetPending(): void;
  close(): Promise<void>;
}

async function startControlledUpstream(): Promise<ControlledUpstream> {
  const modes = new Map<string, Mode>();
  const received = new Map<string, number>();
  const servedOn = new WeakMap<Socket, number>();
  const stalledCount = new Map<string, number>();
  const waiters: { model: string; count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const pendingResets: Socket[] = [];
  const server: Server = createServer((incoming: IncomingMessage, response: ServerResponse) => {
    const parts: Buffer[] = [];
    incoming.on('data', (part: Buffer) => parts.push(part));
    incoming.on('end', () => {
      const rawBody = Buffer.concat(parts).toString('utf8');
      const body = JSON.parse(rawBody) as Record<string, unknown>;
      const model = String(body.model);
      received.set(model, (received.get(model) ?? 0) + 1);
      const socket = incoming.socket;
      const earlier = servedOn.get(socket) ?? 0;
      servedOn.set(socket, earlier + 1);
      const mode = modes.get(model) ?? 'ok';
      if (mode === 'reset-reused' && earlier > 0) return void socket.resetAndDestroy();
      if (mode === 'fail') return void response.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'bad gateway', type: 'server_error' } }));
      if (mode === 'stall') {
        response.writeHead(200, { 'content-type': 'text/event-stream' });
        response.flushHeaders();
        stalledCount.set(model, (stalledCount.get(model) ?? 0) + 1);
        for (const waiter of waiters.filter((entry) => entry.model === model && (stalledCount.get(model) ?? 0) >= entry.count)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve();
        }
        return;
      }
      const recorded: RecordedRequest = { method: 'POST', url: incoming.url ?? '', headers: {}, body, rawBody, remotePort: socket.remotePort };
      const render = incoming.url?.endsWith('/chat/completions') ? renderOpenAIChatTurn : renderOpenAIResponsesTurn;
      const reply = render({ text: 'hello there', usage: { input: 20, output: 4 } }, recorded);
      response.writeHead(reply.status, reply.headers);
      if (mode === 'reset-after-byte') {
        // The test resets it once the client has read this first event (resetPending).
        response.write(reply.frames[0] ?? '');
        pendingResets.push(socket);
        return;
      }
      for (const frame of reply.frames) response.write(frame);
      response.end();
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    modes,
    received,
    resetPending: () => pendingResets.splice(0).forEach((socket) => socket.resetAndDestroy()),
    stalled: (model, count) => new Promise<void>((resolve) => ((stalledCount.get(model) ?? 0) >= count ? resolve() : waiters.push({ model, count, resolve }))),
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface SpanRow {
  request_id: string;
  status_code: number;
  error_code: string;
  attempts: string;
}

interface AuditRow {
  action: string;
  subject: string;
  details: string;
}

describe('upstream health: disconnects, keep-alive resets, breaker panic', () => {
  let gatehouse: TestGatehouse;
  let upstream: ControlledUpstream;
  const price = { input: 1, cached_input: 0.1, output: 4 };

  beforeAll(async () => {
    upstream = await startControlledUpstream();
    gatehouse = await startTestGatehouse({
      providers: {
        openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' },
        chat: { type: 'openai-chat', base_url: upstream.url, api_key: 'sk_test' },
      },
      policy: {
        models: {
          passthrough: { provider: 'openai', upstream: 'passthrough', price },
          translated: { provider: 'chat', upstream: 'translated', price },
          'reset-pt': { provider: 'openai', upstream: 'reset-pt', price },
          'reset-tr': { provider: 'chat', upstream: 'reset-tr', price },
          'reset-late': { provider: 'openai', upstream: 'reset-late', price },
          lonely: { provider: 'openai', upstream: 'lonely', price },
        },
        cost_centers: { platform: { allowed_models: ['passthrough', 'translated', 'reset-pt', 'reset-tr', 'reset-late', 'lonely'] } },
        keys: [{ key: TEST_KEY, developer: 'alice', cost_center: 'platform' }],
      },
    });
  });

  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  const metrics = async () => (await request(`${gatehouse.url}/metrics`)).body.text();

  it.each(['passthrough', 'translated'])('%s: 64 clients hang up mid-stream at once → the breaker stays closed and the next request is served', async (model) => {
    upstream.modes.set(model, 'stall');
    const controllers = Array.from({ length: 64 }, () => new AbortController());
    const answers = controllers.map((controller, index) =>
      request(`${gatehouse.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': `storm-${model}-${index}` },
        body: JSON.stringify({ model, stream: true, input: 'hello' }),
        signal: controller.signal,
      }).catch((error: unknown) => error),
    );
    await upstream.stalled(model, 64);
    for (const controller of controllers) controller.abort();
    await Promise.all(answers);
    upstream.modes.set(model, 'ok');
    const spans = await waitForRows<SpanRow>(gatehouse, `SELECT request_id, status_code, error_code, attempts FROM gatehouse.spans WHERE session_id LIKE 'storm-${model}-%'`, 64);
    expect(spans).toHaveLength(64);
    const text = await metrics();
    expect(text).not.toMatch(new RegExp(`gatehouse_upstream_circuit_state\\{target="[a-z]+/${model}"\\} [12]`));
    expect(text).not.toMatch(new RegExp(`gatehouse_upstream_errors_total\\{provider="[a-z]+",code="upstream_error"\\}`));
    const next = await postResponses(gatehouse.url, `storm-${model}-after`, { model });
    expect(next.status).toBe(200);
    expect(next.text).toContain('hello there');
    expect(next.headers['x-gatehouse-served-model']).toBe(model);
  });

  it.each([
    ['pass-through', 'reset-pt'],
    ['translated', 'reset-tr'],
  ])('%s: a reused keep-alive connection reset before any answer byte → sent once more, the client gets its answer', async (_path, model) => {
    const first = await postResponses(gatehouse.url, `reset-${model}-1`, { model });
    expect(first.status).toBe(200);
    upstream.modes.set(model, 'reset-reused');
    const second = await postResponses(gatehouse.url, `reset-${model}-2`, { model });
    expect(second.status).toBe(200);
    expect(second.text).toContain('hello there');
    // First request, the one reset on the reused connection, the same one again on a fresh connection.
    expect(upstream.received.get(model)).toBe(3);
    const [span] = await waitForRows<SpanRow>(gatehouse, `SELECT request_id, status_code, error_code, attempts FROM gatehouse.spans WHERE session_id = 'reset-${model}-2'`, 1);
    expect(span).toMatchObject({ status_code: 200, error_code: '' });
    expect(JSON.parse(span?.attempts ?? '[]')).toMatchObject([{ model, status: 200, resent: 1 }]);
    upstream.modes.set(model, 'ok');
  });

  it('a reset after the first answer byte is not sent again: the client gets an in-band failure naming the cause', async () => {
    upstream.modes.set('reset-late', 'reset-after-byte');
    const response = await request(`${gatehouse.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'reset-late-1' },
      body: JSON.stringify({ model: 'reset-late', stream: true, input: 'hello' }),
    });
    expect(response.statusCode).toBe(200);
    let text = '';
    for await (const chunk of response.body) {
      if (text === '') upstream.resetPending();
      text += (chunk as Buffer).toString('utf8');
    }
    expect(text).toContain('event: response.created');
    expect(text.trimEnd().split('\n\n').at(-1)).toMatch(/^event: response\.failed\ndata: /);
    expect(upstream.received.get('reset-late')).toBe(1);
    const [span] = await waitForRows<SpanRow>(gatehouse, `SELECT request_id, status_code, error_code, attempts FROM gatehouse.spans WHERE session_id = 'reset-late-1'`, 1);
    expect(span?.error_code).toBe('upstream_error');
    const [attempt] = JSON.parse(span?.attempts ?? '[]') as { phase: string; cause: string; resent?: number }[];
    expect(attempt).toMatchObject({ phase: 'body' });
    expect(['ECONNRESET', 'UND_ERR_SOCKET']).toContain(attempt?.cause);
    expect(attempt?.resent).toBeUndefined();
  });

  it("the only provider's breaker is open → requests still go through (panic), the span says so, and opening and closing are audited", async () => {
    upstream.modes.set('lonely', 'fail');
    for (let index = 0; index < 5; index++) expect((await postResponses(gatehouse.url, `lonely-fail-${index}`, { model: 'lonely' })).status).toBe(502);
    expect(await metrics()).toContain('gatehouse_upstream_circuit_state{target="openai/lonely"} 2');
    upstream.modes.set('lonely', 'ok');
    const answer = await postResponses(gatehouse.url, 'lonely-panic', { model: 'lonely' });
    expect(answer.status).toBe(200);
    expect(answer.text).toContain('hello there');
    expect(upstream.received.get('lonely')).toBe(6);
    const [span] = await waitForRows<SpanRow>(gatehouse, `SELECT request_id, status_code, error_code, attempts FROM gatehouse.spans WHERE session_id = 'lonely-panic'`, 1);
    expect(JSON.parse(span?.attempts ?? '[]')).toMatchObject([
      { model: 'lonely', code: 'circuit_open' },
      { model: 'lonely', status: 200, breaker: 'panic' },
    ]);
    const text = await metrics();
    expect(text).toContain('gatehouse_upstream_panic_total{target="openai/lonely"} 1');
    // The answer was evidence of health: the circuit closed again.
    expect(text).toContain('gatehouse_upstream_circuit_state{target="openai/lonely"} 0');
    expect(text).toContain('gatehouse_upstream_circuit_closes_total{target="openai/lonely"} 1');
    await gatehouse.context.audit.flush();
    const audit = await waitForRows<AuditRow>(gatehouse, `SELECT action, subject, details FROM gatehouse.audit_log WHERE action LIKE 'breaker.%' AND subject = 'openai/lonely' ORDER BY seq`, 2);
    expect(audit.map((row) => row.action)).toEqual(['breaker.opened', 'breaker.closed']);
    expect(JSON.parse(audit[0]?.details ?? '{}')).toMatchObject({ target: 'openai/lonely', window_failures: 5, window_requests: 5 });
    expect(JSON.parse(audit[0]?.details ?? '{}').last_failure).toContain('upstream_error');
  });
});
