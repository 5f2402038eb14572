import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { ScoreSink } from './score-rows.ts';

/** The table the collector's OTLP intake writes too: evaluator spans sit beside every other service's. */
export const OTEL_SPANS_TABLE = 'otel_spans';
export const EVALUATOR_SERVICE_NAME = 'gatehouse-evaluator';

const KINDS = ['INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;

function formatHrTime([seconds, nanos]: [number, number]): string {
  const iso = new Date(seconds * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${String(nanos).padStart(9, '0')}`;
}

function flatten(attributes: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(attributes).map(([key, value]) => [key, typeof value === 'string' ? value : JSON.stringify(value)]));
}

/** A finished span as a `gatehouse.otel_spans` row (same shape as collector/otlp/otlp-to-rows.ts writes). */
export function otelSpanRowOf(span: ReadableSpan): Record<string, unknown> {
  const context = span.spanContext();
  const [startSeconds, startNanos] = span.startTime;
  const [endSeconds, endNanos] = span.endTime;
  const duration = BigInt(endSeconds - startSeconds) * 1_000_000_000n + BigInt(endNanos - startNanos);
  return {
    start_time: formatHrTime(span.startTime),
    end_time: formatHrTime(span.endTime),
    duration_ns: (duration > 0n ? duration : 0n).toString(),
    trace_id: context.traceId,
    span_id: context.spanId,
    parent_span_id: span.parentSpanContext?.spanId ?? '',
    trace_state: '',
    name: span.name,
    kind: KINDS[span.kind] ?? 'INTERNAL',
    service_name: String(span.resource.attributes['service.name'] ?? EVALUATOR_SERVICE_NAME),
    scope_name: span.instrumentationScope.name,
    scope_version: span.instrumentationScope.version ?? '',
    status_code: span.status.code === SpanStatusCode.ERROR ? 'ERROR' : span.status.code === SpanStatusCode.OK ? 'OK' : 'UNSET',
    status_message: span.status.message ?? '',
    attributes: flatten(span.attributes),
    resource_attributes: flatten(span.resource.attributes),
    events: JSON.stringify(span.events.map((event) => ({ time: formatHrTime(event.time), name: event.name, attributes: event.attributes ?? {} }))),
    links: JSON.stringify(span.links.map((link) => ({ trace_id: link.context.traceId, span_id: link.context.spanId, trace_state: '', attributes: link.attributes ?? {} }))),
    dropped_attributes_count: span.droppedAttributesCount,
    dropped_events_count: span.droppedEventsCount,
    dropped_links_count: span.droppedLinksCount,
  };
}

/**
 * The evaluator's tracer: a provider of its own (like the gateway's, not registered globally, so
 * several evaluators can live in one process) whose spans go to `otel_spans` through the score sink's
 * batch writer. Before, `trace.getTracer` returned the API's no-op tracer: no provider was registered,
 * so every evaluation span was dropped.
 */
export function createEvaluatorTracing(sink: ScoreSink): { tracer: Tracer; shutdown(): Promise<void> } {
  const processor: SpanProcessor = {
    onStart: () => {},
    onEnd: (span) => sink.write(OTEL_SPANS_TABLE, [otelSpanRowOf(span)]),
    forceFlush: async () => {},
    shutdown: async () => {},
  };
  const provider = new BasicTracerProvider({ spanProcessors: [processor], resource: resourceFromAttributes({ 'service.name': EVALUATOR_SERVICE_NAME }) });
  return { tracer: provider.getTracer(EVALUATOR_SERVICE_NAME), shutdown: () => provider.shutdown() };
}
