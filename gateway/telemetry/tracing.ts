import { randomFillSync } from 'node:crypto';
import { context as otelContext, trace, SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { BasicTracerProvider, type IdGenerator, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import type { UpstreamAttempt } from '../errors/gateway-error.ts';
import { attributeNameOf, ATTEMPT_SPAN_NAME, TURN_SPAN_NAME } from '../../shared/telemetry/span-attributes.ts';
import { spanInsertLine } from '../../collector/span-row-from-attributes.ts';

export interface Tracing {
  /** Records one finished turn: its `gatehouse.spans` row, a row per upstream attempt, and the same as OTel spans when exported. */
  recordTurn(row: Omit<SpanRow, 'trace_id' | 'span_id'>, startedAtMillis: number, attempts: UpstreamAttempt[]): { traceId: string; spanId: string };
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
}

/** Where a turn's rows go: the batch writer (journaled, batched inserts, spooled when ClickHouse is away). */
export interface TurnRowSink {
  writeLine(table: string, line: string): void;
  write(table: string, rows: Record<string, unknown>[]): void;
}

/** Random ids as OTel spells them (lowercase hex), drawn from a pooled random buffer: one refill per ~170 turns. */
class RandomIds {
  private readonly pool = Buffer.allocUnsafe(4096);
  private used = this.pool.length;

  hex(bytes: number): string {
    if (this.used + bytes > this.pool.length) {
      randomFillSync(this.pool);
      this.used = 0;
    }
    const id = this.pool.toString('hex', this.used, this.used + bytes);
    this.used += bytes;
    // All-zero ids are invalid in W3C trace context; 2^-64 or less, but never emit one.
    return /^0+$/.test(id) ? this.hex(bytes) : id;
  }
}

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
 * Turns become rows directly (no OpenTelemetry span on the way: building one and reading its
 * attributes back was the most expensive step of recording a turn). With an OTLP exporter, the same
 * turn is also built as OTel spans carrying the rows' trace and span ids; the provider is our own (not
 * registered globally, so several gateways can live in one process in tests).
 */
export function createTracing(rows: TurnRowSink, ...exporters: SpanProcessor[]): Tracing {
  const random = new RandomIds();
  const chosen = new ChosenIds();
  const provider = exporters.length > 0 ? new BasicTracerProvider({ idGenerator: chosen, spanProcessors: exporters, resource: resourceFromAttributes({ 'service.name': 'gatehouse', 'service.namespace': 'gatehouse' }) }) : undefined;
  const tracer = provider?.getTracer('gatehouse-gateway', '0.1.0');
  return {
    recordTurn(row, startedAtMillis, attempts) {
      const traceId = random.hex(16);
      const spanId = random.hex(8);
      rows.writeLine('spans', spanInsertLine(row, traceId, spanId));
      const attemptSpanIds: string[] = [];
      let attemptStart = startedAtMillis;
      for (const attempt of attempts) {
        const attemptSpanId = random.hex(8);
        attemptSpanIds.push(attemptSpanId);
        rows.write('upstream_attempts', [
          {
            ts: new Date(attemptStart).toISOString(),
            trace_id: traceId,
            span_id: attemptSpanId,
            request_id: row.request_id,
            model: attempt.model,
            provider: attempt.provider,
            status_code: attempt.status ?? 0,
            error_code: attempt.code ?? '',
            hop_reason: attempt.reason ?? '',
            duration_ms: attempt.durationMillis,
          },
        ]);
        attemptStart += attempt.durationMillis;
      }
      if (tracer) {
        chosen.traceId = traceId;
        chosen.spanIds = [spanId, ...attemptSpanIds];
        exportTurn(tracer, row, startedAtMillis, attempts);
      }
      return { traceId, spanId };
    },
    forceFlush: async () => {
      await provider?.forceFlush();
    },
    shutdown: async () => {
      await provider?.shutdown();
    },
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
