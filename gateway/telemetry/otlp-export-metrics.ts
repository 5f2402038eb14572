import { METRIC_PREFIX } from '../../shared/telemetry/metric-names.ts';

// Apart from otlp-export.ts so that /metrics can render these without loading the OTLP exporters
// (protobufjs, the OTel transformer) into a gateway that exports nowhere.

export interface OtlpExportStats {
  exported: number;
  dropped: number;
  failed: number;
}

/** Prometheus text for /metrics: spans exported, dropped (queue full) and failed (the endpoint refused or was down). */
export function renderOtlpMetrics(stats: OtlpExportStats | undefined): string {
  if (!stats) return '';
  const name = `${METRIC_PREFIX}otlp_export_spans_total`;
  return [
    `# HELP ${name} Turn and attempt spans handed to the OTLP exporter, by result (dropped = the bounded queue was full)`,
    `# TYPE ${name} counter`,
    `${name}{result="exported"} ${stats.exported}`,
    `${name}{result="dropped"} ${stats.dropped}`,
    `${name}{result="failed"} ${stats.failed}`,
    '',
  ].join('\n');
}
