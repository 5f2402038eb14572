import { randomFillSync } from 'node:crypto';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import type { UpstreamAttempt } from '../errors/gateway-error.ts';
import { spanInsertLine } from './span-insert-line.ts';

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

/** The ids a turn's rows carry: its trace, its own span and one span per upstream attempt. */
export interface TurnIds {
  traceId: string;
  spanId: string;
  attemptSpanIds: string[];
}

/** Builds a turn as OpenTelemetry spans for an exporter (otel-turn-spans.ts, loaded only where spans are exported). */
export interface TurnSpanExporter {
  exportTurn(row: Omit<SpanRow, 'trace_id' | 'span_id'>, startedAtMillis: number, attempts: UpstreamAttempt[], ids: TurnIds): void;
  forceFlush(): Promise<void>;
  shutdown(): Promise<void>;
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

/**
 * Turns become rows directly (no OpenTelemetry span on the way: building one and reading its
 * attributes back was the most expensive step of recording a turn). With an OTLP exporter, the same
 * turn is also built as OTel spans carrying the rows' trace and span ids.
 */
export function createTracing(rows: TurnRowSink, exporter?: TurnSpanExporter): Tracing {
  const random = new RandomIds();
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
      exporter?.exportTurn(row, startedAtMillis, attempts, { traceId, spanId, attemptSpanIds });
      return { traceId, spanId };
    },
    forceFlush: async () => {
      await exporter?.forceFlush();
    },
    shutdown: async () => {
      await exporter?.shutdown();
    },
  };
}
