import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { BatchWriter } from '../shared/storage/batch-writer.ts';
import { spanInsertLineFromAttributes, upstreamAttemptRowFromSpan } from './span-row-from-attributes.ts';
import { ATTEMPT_SPAN_NAME, TURN_SPAN_NAME } from '../shared/telemetry/span-attributes.ts';

/**
 * The collector's span processor: turns each of the gateway's finished spans into its
 * `gatehouse.spans` row (one per client request) or `gatehouse.upstream_attempts` row as it ends,
 * and hands the row to the batch writer, which batches the inserts and spools to disk when
 * ClickHouse is away, so nothing here can fail or block.
 *
 * The batching lives in the writer rather than in the SDK's BatchSpanProcessor: that one holds
 * the span objects for its export delay, long enough for V8 to promote them to the old
 * generation, and concurrent marking of ~40-attribute spans cost more CPU per request than
 * everything else on the telemetry path. Converted at once, the span dies young.
 */
export class SpanRowProcessor implements SpanProcessor {
  private readonly writer: BatchWriter;

  constructor(writer: BatchWriter) {
    this.writer = writer;
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (span.name === TURN_SPAN_NAME) {
      const { traceId, spanId } = span.spanContext();
      this.writer.writeLine('spans', spanInsertLineFromAttributes(span.attributes, traceId, spanId));
    } else if (span.name === ATTEMPT_SPAN_NAME) {
      this.writer.write('upstream_attempts', [upstreamAttemptRowFromSpan(span)]);
    }
  }

  forceFlush(): Promise<void> {
    return this.writer.flush();
  }

  shutdown(): Promise<void> {
    return this.writer.flush();
  }
}
