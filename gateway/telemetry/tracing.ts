import { context as otelContext, trace, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import type { UpstreamAttempt } from '../errors/gateway-error.ts';
import { attributeNameOf, ATTEMPT_SPAN_NAME, TURN_SPAN_NAME } from '../../shared/telemetry/span-attributes.ts';
import { resourceFromAttributes } from '@opentelemetry/resources';

export interface Tracing {
  /** Records one finished turn: a server span with the row's columns and a child span per upstream attempt. */
  recordTurn(row: Omit<SpanRow, 'trace_id' | 'span_id'>, startedAtMillis: number, attempts: UpstreamAttempt[]): { traceId: string; spanId: string };
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/**
 * A tracer provider of its own (not registered globally, so several gateways can live in one
 * process in tests) whose processor (the collector's) turns finished spans into rows for the
 * batched inserts.
 */
export function createTracing(processor: SpanProcessor, ...exporters: SpanProcessor[]): Tracing {
  const provider = new BasicTracerProvider({ spanProcessors: [processor, ...exporters], resource: resourceFromAttributes({ 'service.name': 'gatehouse', 'service.namespace': 'gatehouse' }) });
  const tracer: Tracer = provider.getTracer('gatehouse-gateway', '0.1.0');
  return {
    recordTurn(row, startedAtMillis, attempts) {
      // Attributes set one by one on the started span: given to startSpan, the SDK copies and
      // validates them twice more (sanitizeAttributes before and after sampling); collected in an
      // object first, that ~40-key object is one more slow dictionary per turn.
      const span = tracer.startSpan(TURN_SPAN_NAME, { kind: SpanKind.SERVER, startTime: startedAtMillis });
      span.setAttribute('gen_ai.operation.name', 'chat');
      for (const column in row) {
        const value = row[column as keyof typeof row];
        // Empty values are the collector's defaults: leaving them off halves the attributes per span.
        if (value === '' || value === 0 || value === false || (Array.isArray(value) && value.length === 0)) continue;
        span.setAttribute(attributeNameOf(column as keyof SpanRow), value as never);
      }
      const spanContext = span.spanContext();
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
      return { traceId: spanContext.traceId, spanId: spanContext.spanId };
    },
    forceFlush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}
