import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { ClickHouseClient } from '@clickhouse/client';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SpanStatusCode, SpanKind, context, trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { DiskSpool } from '../../shared/storage/disk-spool.ts';
import { otlpRoutes } from '../../collector/otlp-routes.ts';

const database = `otlp_test_${process.pid}`;
let dataDir: string;
let clickhouse: ClickHouseClient;
let writer: BatchWriter;
let app: FastifyInstance;
let baseUrl: string;

async function rows<T>(query: string): Promise<T[]> {
  const result = await clickhouse.query({ query, format: 'JSONEachRow' });
  return result.json<T>();
}

/** Sends two spans (parent SERVER, child CLIENT with error status) through an official exporter. */
async function exportSpans(exporter: SpanExporter, service: string): Promise<{ traceId: string }> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service, 'deployment.environment': 'test' }),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const tracer = provider.getTracer('gatehouse-test', '1.2.3');
  const parent = tracer.startSpan('POST /v1/responses', { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'POST', 'gatehouse.input_tokens': 1234 } });
  const traceId = parent.spanContext().traceId;
  const child = tracer.startSpan(
    'upstream openai',
    { kind: SpanKind.CLIENT, attributes: { 'gen_ai.request.model': 'gpt-5.1', 'gatehouse.cost_usd': 0.25, 'gatehouse.stream': true, 'gatehouse.tags': ['a', 'b'] } },
    trace.setSpan(context.active(), parent),
  );
  child.addEvent('first-byte', { 'ttfb_ms': 42 });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream 429' });
  child.end();
  parent.end();
  await provider.forceFlush();
  await provider.shutdown();
  return { traceId };
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-otlp-'));
  clickhouse = await createClickHouse({ url: 'embedded', database, dataDir });
  await migrate(clickhouse, database);
  writer = new BatchWriter({ client: clickhouse, database, spool: new DiskSpool(join(dataDir, 'spool'), 1024 * 1024), flushIntervalMillis: 60_000 });
  app = Fastify();
  await app.register(otlpRoutes, { writer });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  await writer?.shutdown();
  await clickhouse?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

interface SpanRow {
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  name: string;
  kind: string;
  service_name: string;
  scope_name: string;
  scope_version: string;
  status_code: string;
  status_message: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  events: string;
  duration_ns: string;
  duration_ms: number;
  start_time: string;
}

async function spansOf(traceId: string): Promise<SpanRow[]> {
  return rows<SpanRow>(
    `SELECT *, duration_ms FROM ${database}.otel_spans WHERE trace_id = '${traceId}' ORDER BY kind DESC`,
  );
}

function expectExportedShape(spans: SpanRow[], traceId: string, service: string) {
  expect(spans).toHaveLength(2);
  const [server, client] = spans as [SpanRow, SpanRow];
  expect(server).toMatchObject({
    trace_id: traceId,
    parent_span_id: '',
    name: 'POST /v1/responses',
    kind: 'SERVER',
    service_name: service,
    scope_name: 'gatehouse-test',
    scope_version: '1.2.3',
    status_code: 'UNSET',
  });
  expect(server.attributes).toMatchObject({ 'http.request.method': 'POST', 'gatehouse.input_tokens': '1234' });
  expect(server.resource_attributes).toMatchObject({ 'service.name': service, 'deployment.environment': 'test' });
  expect(client).toMatchObject({ kind: 'CLIENT', parent_span_id: server.span_id, status_code: 'ERROR', status_message: 'upstream 429' });
  expect(client.attributes).toMatchObject({ 'gen_ai.request.model': 'gpt-5.1', 'gatehouse.cost_usd': '0.25', 'gatehouse.stream': 'true', 'gatehouse.tags': '["a","b"]' });
  expect(JSON.parse(client.events)).toEqual([expect.objectContaining({ name: 'first-byte', attributes: { ttfb_ms: 42 } })]);
  expect(server.span_id).toMatch(/^[0-9a-f]{16}$/);
  expect(Number(server.duration_ns)).toBeGreaterThanOrEqual(0);
  expect(server.start_time.slice(0, 4)).toBe(String(new Date().getUTCFullYear()));
}

describe('OTLP/HTTP intake (POST /v1/traces)', () => {
  it('stores spans sent by the official OTLP/HTTP JSON exporter', async () => {
    const exporter = new OtlpHttpJsonExporter({ url: `${baseUrl}/v1/traces` });
    const { traceId } = await exportSpans(exporter, 'json-service');
    await writer.flush();
    expectExportedShape(await spansOf(traceId), traceId, 'json-service');
  });

  it('stores spans sent by the official OTLP/HTTP protobuf exporter', async () => {
    const exporter = new OtlpProtoExporter({ url: `${baseUrl}/v1/traces` });
    const { traceId } = await exportSpans(exporter, 'proto-service');
    await writer.flush();
    expectExportedShape(await spansOf(traceId), traceId, 'proto-service');
  });

  it('accepts gzip-compressed exports from the protobuf exporter', async () => {
    const exporter = new OtlpProtoExporter({ url: `${baseUrl}/v1/traces`, compression: 'gzip' as never });
    const { traceId } = await exportSpans(exporter, 'gzip-service');
    await writer.flush();
    expect(await spansOf(traceId)).toHaveLength(2);
  });

  it('keeps nanosecond timestamps and reports spans without ids as a partial success', async () => {
    const traceId = '5b8efff798038103d269b633813fc60c';
    const body = {
      resourceSpans: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'hand-made' } }] },
          scopeSpans: [
            {
              scope: { name: 'manual' },
              spans: [
                { traceId, spanId: 'eee19b7ec3c1b174', name: 'ok', kind: 2, startTimeUnixNano: '1764300000123456789', endTimeUnixNano: '1764300001123456790', status: { code: 1 } },
                { traceId, name: 'no span id', startTimeUnixNano: '1764300000000000000', endTimeUnixNano: '1764300000000000001' },
              ],
            },
          ],
        },
      ],
    };
    const response = await fetch(`${baseUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(body)) });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { partialSuccess?: { rejectedSpans: string; errorMessage: string } };
    expect(answer.partialSuccess?.rejectedSpans).toBe('1');
    expect(answer.partialSuccess?.errorMessage).toContain('no span id');
    await writer.flush();
    const stored = await rows<{ start_time: string; duration_ns: number | string; status_code: string; kind: string }>(
      `SELECT toString(start_time) AS start_time, toFloat64(duration_ns) AS duration_ns, status_code, kind FROM ${database}.otel_spans WHERE trace_id = '${traceId}'`,
    );
    expect(stored).toEqual([{ start_time: '2025-11-28 03:20:00.123456789', duration_ns: 1000000001, status_code: 'OK', kind: 'SERVER' }]);
  });

  it('refuses undecodable bodies with 400 in the request encoding and unknown media types with 415', async () => {
    const badJson = await fetch(`${baseUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"resourceSpans":' });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { code: number }).code).toBe(3);
    const badProto = await fetch(`${baseUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0x0a, 0xff, 0xff, 0xff]) });
    expect(badProto.status).toBe(400);
    expect(badProto.headers.get('content-type')).toContain('application/x-protobuf');
    const text = await fetch(`${baseUrl}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
  });

  it('answers 503 with Retry-After when the writer drops the rows', async () => {
    const full = { write() {}, stats: (() => { let dropped = 0; return () => ({ droppedRows: dropped++ }); })() };
    const small = Fastify();
    await small.register(otlpRoutes, { writer: full, bearerToken: 'collector-secret' });
    const body = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', name: 'x' }] }] }] };
    const unauthorized = await small.inject({ method: 'POST', url: '/v1/traces', payload: body });
    expect(unauthorized.statusCode).toBe(401);
    const response = await small.inject({ method: 'POST', url: '/v1/traces', payload: body, headers: { authorization: 'Bearer collector-secret' } });
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    await small.close();
  });
});
