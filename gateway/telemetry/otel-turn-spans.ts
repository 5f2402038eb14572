import { context as otelContext, trace, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, type IdGenerator, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import type { UpstreamAttempt } from '../errors/gateway-error.ts';
import { attributeNameOf, ATTEMPT_SPAN_NAME, TURN_SPAN_NAME } from '../../shared/telemetry/span-attributes.ts';
import type { TurnSpanExporter } from './tracing.ts';

/** Hands the OTel SDK the ids the rows already carry, so an exported span and its row share them. */
class ChosenIds implements IdGenerator {
  traceId = '';
  spanIds: string[] = [];

  generateTraceId(): string {
    return this.traceId;
  }

  generateSpanId(): string {
    return this.spanIds.shift() ?? '';
  }
}

/**
 * A turn as OpenTelemetry spans, for exporters (OTLP): a tracer provider of our own (not registered
 * globally, so several gateways can live in one process in tests) whose ids are the rows' ids.
 */
export function otelTurnSpans(...processors: SpanProcessor[]): TurnSpanExporter {
  const chosen = new ChosenIds();
  const provider = new BasicTracerProvider({ idGenerator: chosen, spanProcessors: processors, resource: resourceFromAttributes({ 'service.name': 'gatehouse', 'service.namespace': 'gatehouse' }) });
  const tracer = provider.getTracer('gatehouse-gateway', '0.1.0');
  return {
    exportTurn(row, startedAtMillis, attempts, ids) {
      chosen.traceId = ids.traceId;
      chosen.spanIds = [ids.spanId, ...ids.attemptSpanIds];
      exportTurn(tracer, row, startedAtMillis, attempts);
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** The turn as OTel spans for an exporter: a server span with the row's columns, a client span per upstream attempt. */
function exportTurn(tracer: Tracer, row: Omit<SpanRow, 'trace_id' | 'span_id'>, startedAtMillis: number, attempts: UpstreamAttempt[]): void {
  // Attributes set one by one on the started span: given to startSpan, the SDK copies and validates them twice more.
  const span = tracer.startSpan(TURN_SPAN_NAME, { kind: SpanKind.SERVER, startTime: startedAtMillis });
  span.setAttribute('gen_ai.operation.name', 'chat');
  for (const column in row) {
    const value = row[column as keyof typeof row];
    // Empty values are the collector's defaults: leaving them off halves the attributes per span.
    if (value === '' || value === 0 || value === false || (Array.isArray(value) && value.length === 0)) continue;
    span.setAttribute(attributeNameOf(column as keyof SpanRow), value as never);
  }
  let attemptStart = startedAtMillis;
  for (const attempt of attempts) {
    const child = tracer.startSpan(
      ATTEMPT_SPAN_NAME,
      {
        kind: SpanKind.CLIENT,
        startTime: attemptStart,
        attributes: {
          'gatehouse.request_id': row.request_id,
          'gen_ai.request.model': attempt.model,
          'gen_ai.provider.name': attempt.provider,
          'http.response.status_code': attempt.status ?? 0,
          'error.type': attempt.code ?? '',
          'gatehouse.hop_reason': attempt.reason ?? '',
        },
      },
      trace.setSpan(otelContext.active(), span),
    );
    if (attempt.code) child.setStatus({ code: SpanStatusCode.ERROR, message: attempt.code });
    attemptStart += attempt.durationMillis;
    child.end(attemptStart);
  }
  if (row.error_code) span.setStatus({ code: SpanStatusCode.ERROR, message: row.error_code });
  span.end(startedAtMillis + row.duration_ms);
}
