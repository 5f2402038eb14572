import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one gateway instance (own registry: several apps may share a process in tests). */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_process_' });
  const requests = new Counter({
    name: 'gatehouse_requests_total',
    help: 'Client requests by inbound protocol, status code and error code',
    labelNames: ['inbound', 'status', 'code'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'gatehouse_request_duration_seconds',
    help: 'Whole request duration including the upstream',
    labelNames: ['inbound', 'provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [registry],
  });
  const ttfb = new Histogram({
    name: 'gatehouse_upstream_ttfb_seconds',
    help: 'Time until the upstream answered with headers',
    labelNames: ['provider'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const upstreamErrors = new Counter({
    name: 'gatehouse_upstream_errors_total',
    help: 'Failed upstream attempts by provider and error code',
    labelNames: ['provider', 'code'] as const,
    registers: [registry],
  });
  const hops = new Counter({
    name: 'gatehouse_fallback_hops_total',
    help: 'Fallback hops by from/to provider',
    labelNames: ['from', 'to'] as const,
    registers: [registry],
  });
  const spansQueued = new Gauge({ name: 'gatehouse_spans_queued', help: 'Rows waiting in the batch writer', registers: [registry] });
  const spansDropped = new Gauge({ name: 'gatehouse_spans_dropped_total', help: 'Rows dropped because the queue or spool was full', registers: [registry] });
  const spansWritten = new Gauge({ name: 'gatehouse_rows_written_total', help: 'Rows written to ClickHouse', registers: [registry] });
  const spoolBytes = new Gauge({ name: 'gatehouse_spool_bytes', help: 'Bytes in the on-disk spool', registers: [registry] });
  const spoolFiles = new Gauge({ name: 'gatehouse_spool_batches', help: 'Batches in the on-disk spool', registers: [registry] });
  const policyVersion = new Gauge({ name: 'gatehouse_policy_version', help: 'Active policy version', registers: [registry] });
  return { registry, requests, latency, ttfb, upstreamErrors, hops, spansQueued, spansDropped, spansWritten, spoolBytes, spoolFiles, policyVersion };
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
