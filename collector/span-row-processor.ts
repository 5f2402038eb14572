import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { BatchWriter } from '../shared/storage/batch-writer.ts';
import { spanInsertRowFromAttributes, upstreamAttemptRowFromSpan } from './span-row-from-attributes.ts';
import { ATTEMPT_SPAN_NAME, TURN_SPAN_NAME } from '../shared/telemetry/span-attributes.ts';

/**
 * The collector's exporter: turns the gateway's finished spans into `gatehouse.spans` rows (one per
 * client request) and `gatehouse.upstream_attempts` rows, and hands them to the batch writer,
 * which spools to disk when ClickHouse is away. Exporting therefore never fails.
 */
export class SpanRowExporter implements SpanExporter {
  private readonly writer: BatchWriter;
  exportedTurns = 0;

  constructor(writer: BatchWriter) {
    this.writer = writer;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const turns: Record<string, unknown>[] = [];
    const attempts: Record<string, unknown>[] = [];
    for (const span of spans) {
      const { traceId, spanId } = span.spanContext();
      if (span.name === TURN_SPAN_NAME) turns.push(spanInsertRowFromAttributes(span.attributes, traceId, spanId));
      else if (span.name === ATTEMPT_SPAN_NAME) attempts.push(upstreamAttemptRowFromSpan(span));
    }
    this.writer.write('spans', turns);
    this.writer.write('upstream_attempts', attempts);
    this.exportedTurns += turns.length;
    resultCallback({ code: ExportResultCode.SUCCESS });
  }

  async forceFlush(): Promise<void> {
    await this.writer.flush();
  }

  async shutdown(): Promise<void> {
    await this.writer.flush();
  }
}
