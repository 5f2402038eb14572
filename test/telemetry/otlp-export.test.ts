import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, testPolicy, TEST_KEY, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { codexHeaders, postTurn, simpleTurn, waitUntil } from '../e2e/helpers/e2e-client.ts';
import { decodeProtobufTraceRequest } from '../../collector/otlp/decode-otlp-traces.ts';
import { flattenAttributes, normalizeId } from '../../collector/otlp/otlp-to-rows.ts';
import type { OtlpTraceRequest } from '../../collector/otlp/otlp-types.ts';

/**
 * Issue 19 (observability elsewhere): every turn span goes to an OTLP/HTTP endpoint with the ClickHouse
 * row's attributes (GenAI semantic conventions), batched off the request path, without prompt text.
 * The receiver decodes what arrives with the OTLP protobuf definitions (the collector's own decoder).
 */
// chDB binds one data directory per process: every gateway of this file opens the same one, in turn.
const DATA_DIR = join(mkdtempSync(join(tmpdir(), 'gatehouse-otlp-')), 'data');

interface Received {
  headers: IncomingHttpHeaders;
  raw: Buffer;
  request: OtlpTraceRequest;
}

async function startReceiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const raw = Buffer.concat(chunks);
      const json = String(request.headers['content-type']).includes('json');
      received.push({ headers: request.headers, raw, request: json ? (JSON.parse(raw.toString('utf8')) as OtlpTraceRequest) : decodeProtobufTraceRequest(raw) });
      response.writeHead(200, { 'content-type': json ? 'application/json' : 'application/x-protobuf' });
      response.end(json ? '{}' : Buffer.alloc(0));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function spansOf(received: Received[]) {
  return received.flatMap((entry) =>
    (entry.request.resourceSpans ?? []).flatMap((resourceSpans) =>
      (resourceSpans.scopeSpans ?? []).flatMap((scope) => (scope.spans ?? []).map((span) => ({ span, attributes: flattenAttributes(span.attributes), resource: flattenAttributes(resourceSpans.resource?.attributes) }))),
    ),
  );
}

describe.each(['http/protobuf', 'http/json'] as const)('OTLP export of turn spans (%s)', (protocol) => {
  let upstream: FakeResponsesUpstream;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let gatehouse: TestGatehouse;
  const PROMPT = 'please refactor the billing module quietly';

  beforeAll(async () => {
    receiver = await startReceiver();
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'refactored' }], usage: { input_tokens: 1200, cached_tokens: 1000, output_tokens: 40 } }));
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy: testPolicy(),
      dataDir: DATA_DIR,
      extraConfig: { telemetry: { otlp: { endpoint: receiver.url, protocol, headers: { 'x-honeycomb-team': 'hc_test_key' }, interval_ms: 50 } } },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    await receiver?.close();
  });

  it('sends the turn span with GenAI attributes, the cost center and cost, the configured headers, and no prompt text', async () => {
    const answer = await postTurn(gatehouse.url, TEST_KEY, simpleTurn('gpt-5.5', { input: PROMPT }), codexHeaders('otlp-session', 'otlp-turn'));
    expect(answer.status).toBe(200);
    const requestId = String(answer.headers['x-gatehouse-request-id']);
    await waitUntil('the turn span reached the OTLP receiver', () => spansOf(receiver.received).some(({ attributes }) => attributes['gatehouse.request_id'] === requestId), 10_000);
    const { span, attributes, resource } = spansOf(receiver.received).find(({ attributes: a }) => a['gatehouse.request_id'] === requestId)!;
    expect(span.name).toBe('gatehouse.turn');
    expect(resource['service.name']).toBe('gatehouse');
    expect(attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-5.5',
      'gen_ai.response.model': 'gpt-5.5',
      'gen_ai.provider.name': 'openai',
      'gen_ai.conversation.id': 'otlp-session',
      'gen_ai.usage.input_tokens': '1200',
      'gen_ai.usage.output_tokens': '40',
      'gatehouse.cached_input_tokens': '1000',
      'gatehouse.cost_center': 'platform',
      'http.response.status_code': '200',
    });
    expect(Number(attributes['gatehouse.cost_usd'])).toBeGreaterThan(0);
    const delivery = receiver.received.find((entry) => spansOf([entry]).some(({ attributes: a }) => a['gatehouse.request_id'] === requestId))!;
    expect(delivery.headers['x-honeycomb-team']).toBe('hc_test_key');
    expect(delivery.headers['content-type']).toContain(protocol === 'http/json' ? 'application/json' : 'application/x-protobuf');
    for (const entry of receiver.received) expect(entry.raw.toString('utf8')).not.toContain(PROMPT);
    // The row in ClickHouse is written straight from the turn, not from this span: both carry the same ids.
    const [row] = await waitForRows<{ trace_id: string; span_id: string }>(gatehouse, `SELECT trace_id, span_id FROM gatehouse.spans WHERE request_id = '${requestId}'`, 1);
    expect(row).toBeDefined();
    expect(normalizeId(span.traceId, 16)).toBe(row?.trace_id);
    expect(normalizeId(span.spanId, 8)).toBe(row?.span_id);
    expect(row?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    expect(row?.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('counts exported spans on /metrics', async () => {
    const text = await (await fetch(`${gatehouse.url}/metrics`)).text();
    expect(Number(/gatehouse_otlp_export_spans_total\{result="exported"\} (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
  });
});

describe('OTLP export when the endpoint is down', () => {
  it('drops beyond the bounded queue and counts it, while the turn is served at once', async () => {
    const upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 10, output_tokens: 2 } }));
    // A port nothing listens on, a queue of 2 and a timer too slow to drain it during the test.
    const gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy: testPolicy(),
      dataDir: DATA_DIR,
      extraConfig: { telemetry: { otlp: { endpoint: 'http://127.0.0.1:9/v1/traces', max_queue_size: 2, max_batch_size: 100, interval_ms: 600_000, timeout_ms: 200 } } },
    });
    try {
      for (let index = 0; index < 4; index += 1) expect((await postTurn(gatehouse.url, TEST_KEY, simpleTurn('gpt-5.5'))).status).toBe(200);
      const text = await (await fetch(`${gatehouse.url}/metrics`)).text();
      expect(Number(/gatehouse_otlp_export_spans_total\{result="dropped"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(2);
    } finally {
      await gatehouse.stop();
      await upstream.close();
    }
  });
});
