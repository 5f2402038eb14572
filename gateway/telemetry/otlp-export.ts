import type { Context } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as OTLPProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPTraceExporter as OTLPJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OtlpExportStats } from './otlp-export-metrics.ts';

/** `telemetry.otlp` of the deployment config. */
export interface OtlpExportSettings {
  endpoint: string;
  headers: Record<string, string>;
  protocol: 'http/protobuf' | 'http/json';
  max_queue_size: number;
  max_batch_size: number;
  interval_ms: number;
  timeout_ms: number;
}

/** The OTLP/HTTP traces URL: an endpoint given as a base (`http://collector:4318`) gets `/v1/traces`. */
export function tracesUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/v1/traces';
  return url.toString();
}

/**
 * Sends every finished turn span (and its attempt spans) to an OTLP/HTTP endpoint — Datadog, Grafana
 * Tempo, Honeycomb, Langfuse, Phoenix — off the request path: spans wait in a bounded queue, go out in
 * batches on a timer, and when the queue is full new spans are dropped and counted (a slow or dead
 * collector must never grow the gateway's memory or slow a turn). The attributes are the ClickHouse
 * row's columns under GenAI semantic conventions; prompt text is never among them.
 */
export class OtlpExportProcessor implements SpanProcessor {
  readonly stats: OtlpExportStats = { exported: 0, dropped: 0, failed: 0 };
  private queue: ReadableSpan[] = [];
  private readonly timer: NodeJS.Timeout;
  private inFlight: Promise<void> = Promise.resolve();
  private readonly exporter: SpanExporter;
  private readonly settings: OtlpExportSettings;
  private readonly onError: (error: Error) => void;

  constructor(settings: OtlpExportSettings, onError: (error: Error) => void, exporter?: SpanExporter) {
    this.settings = settings;
    this.onError = onError;
    const options = { url: tracesUrl(settings.endpoint), headers: settings.headers, timeoutMillis: settings.timeout_ms };
    this.exporter = exporter ?? (settings.protocol === 'http/json' ? new OTLPJsonExporter(options) : new OTLPProtoExporter(options));
    this.timer = setInterval(() => void this.exportBatch(), settings.interval_ms);
    this.timer.unref();
  }

  onStart(_span: Span, _parentContext: Context): void {}

  onEnd(span: ReadableSpan): void {
    if (this.queue.length >= this.settings.max_queue_size) {
      this.stats.dropped += 1;
      return;
    }
    this.queue.push(span);
    if (this.queue.length >= this.settings.max_batch_size) void this.exportBatch();
  }

  /** Sends what is queued, one batch at a time (the next waits for the previous). */
  private exportBatch(): Promise<void> {
    if (this.queue.length === 0) return this.inFlight;
    const batch = this.queue.slice(0, this.settings.max_batch_size);
    this.queue = this.queue.slice(batch.length);
    this.inFlight = this.inFlight.then(
      () =>
        new Promise<void>((resolve) => {
          this.exporter.export(batch, (result) => {
            if (result.code === ExportResultCode.SUCCESS) this.stats.exported += batch.length;
            else {
              this.stats.failed += batch.length;
              this.onError(result.error ?? new Error('OTLP export failed'));
            }
            resolve();
          });
        }),
    );
    return this.inFlight;
  }

  async forceFlush(): Promise<void> {
    while (this.queue.length > 0) await this.exportBatch();
    await this.inFlight;
  }

  async shutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.forceFlush();
    await this.exporter.shutdown();
  }
}

