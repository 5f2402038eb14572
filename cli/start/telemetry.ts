import type { Logger } from 'pino';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import type { BatchWriter } from '../../shared/storage/batch-writer.ts';
import type { PolicyHolder } from '../../shared/policy/active-policy.ts';
import { createTracing, type Tracing } from '../../gateway/telemetry/tracing.ts';
import { createMetrics, type GatewayMetrics } from '../../gateway/telemetry/metrics.ts';
import type { OtlpExportProcessor } from '../../gateway/telemetry/otlp-export.ts';
import { WebhookAlerter } from '../../gateway/alerts/webhook-alerter.ts';

/** Where the process reports: Prometheus metrics, spans (ClickHouse, and an OTLP endpoint when configured), alert webhooks. */
export interface Telemetry {
  metrics: GatewayMetrics;
  tracing: Tracing;
  otlp: OtlpExportProcessor | undefined;
  alerter: WebhookAlerter;
}

export async function startTelemetry(config: DeploymentConfig, writer: BatchWriter, policy: PolicyHolder, logger: Logger): Promise<Telemetry> {
  const metrics = createMetrics();
  // The OTLP exporters (protobufjs, the OTel transformer) are loaded only where spans are exported.
  const otlpExport = config.telemetry.otlp ? await import('../../gateway/telemetry/otlp-export.ts') : undefined;
  const otlp = config.telemetry.otlp && otlpExport ? new otlpExport.OtlpExportProcessor(config.telemetry.otlp, (error) => logger.warn({ err: { message: error.message } }, 'OTLP span export failed')) : undefined;
  const tracing = createTracing(writer, otlp ? (await import('../../gateway/telemetry/otel-turn-spans.ts')).otelTurnSpans(otlp) : undefined);
  const alerter = new WebhookAlerter({
    // Read per alert: the webhook follows policy hot-reloads.
    url: () => policy.current().document.alerts.webhook_url,
    onError: (error, event, attempt) => logger.warn({ err: { message: (error as Error).message }, alert: event.event, attempt }, 'alert webhook delivery failed'),
  });
  return { metrics, tracing, otlp, alerter };
}
