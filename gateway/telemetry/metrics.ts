import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import {
  BUDGET_STAGE_TRANSITIONS_METRIC,
  COST_METRIC,
  DENIALS_METRIC,
  FALLBACK_HOPS_METRIC,
  GUARDRAIL_HOOK_CALLS_METRIC,
  GUARDRAIL_HOOK_DURATION_METRIC,
  METRIC_PREFIX,
  POLICY_VERSION_METRIC,
  REQUESTS_METRIC,
  REQUEST_DURATION_METRIC,
  ROWS_WRITTEN_METRIC,
  SPANS_DROPPED_METRIC,
  SPANS_QUEUED_METRIC,
  SPOOL_BATCHES_METRIC,
  SPOOL_BYTES_METRIC,
  TOKENS_METRIC,
  TOKEN_TYPES,
  UPSTREAM_ERRORS_METRIC,
  UPSTREAM_TTFB_METRIC,
} from '../../shared/telemetry/metric-names.ts';

/** What one finished turn adds to the counters (a span row's fields). */
export type TurnMetricsRow = Pick<
  SpanRow,
  'inbound_protocol' | 'status_code' | 'error_code' | 'requested_model' | 'served_model' | 'provider' | 'cost_center' | 'duration_ms' | 'input_tokens' | 'cached_input_tokens' | 'cache_write_tokens' | 'output_tokens' | 'reasoning_tokens' | 'cost_usd'
>;

/** Prometheus text rendered outside prom-client (breakers, budget ledger…), appended to /metrics. */
export type MetricsTextSource = () => string;

function counters(registry: Registry) {
  const usage = ['model', 'provider', 'cost_center'] as const;
  return {
    requests: new Counter({
      name: REQUESTS_METRIC,
      help: 'Client requests by inbound protocol, status code, error code, model (served, else requested), provider and cost center',
      labelNames: ['inbound', 'status', 'code', ...usage] as const,
      registers: [registry],
    }),
    tokens: new Counter({
      name: TOKENS_METRIC,
      help: 'Tokens by type (input includes cached_input and cache_write; output includes reasoning), model, provider and cost center',
      labelNames: ['type', ...usage] as const,
      registers: [registry],
    }),
    cost: new Counter({ name: COST_METRIC, help: 'Cost in USD at the policy or catalog price, by model, provider and cost center', labelNames: usage, registers: [registry] }),
    denials: new Counter({ name: DENIALS_METRIC, help: 'Requests the policy refused, by error code and cost center', labelNames: ['code', 'cost_center'] as const, registers: [registry] }),
    budgetStageTransitions: new Counter({
      name: BUDGET_STAGE_TRANSITIONS_METRIC,
      help: 'Budgets that crossed a stage (alert, downgrade, pause) for the first time in their period, by cost center, stage and scope kind',
      labelNames: ['cost_center', 'stage', 'scope'] as const,
      registers: [registry],
    }),
    upstreamErrors: new Counter({ name: UPSTREAM_ERRORS_METRIC, help: 'Failed upstream attempts by provider and error code', labelNames: ['provider', 'code'] as const, registers: [registry] }),
    hops: new Counter({ name: FALLBACK_HOPS_METRIC, help: 'Fallback hops by from/to provider', labelNames: ['from', 'to'] as const, registers: [registry] }),
    guardrailHookCalls: new Counter({
      name: GUARDRAIL_HOOK_CALLS_METRIC,
      help: 'Calls to a cost center\'s guardrail hook by phase (before_hop, after_hop) and result (allow, block, redact; timeout and error are failures)',
      labelNames: ['cost_center', 'phase', 'result'] as const,
      registers: [registry],
    }),
  };
}

function histograms(registry: Registry) {
  return {
    latency: new Histogram({
      name: REQUEST_DURATION_METRIC,
      help: 'Whole request duration including the upstream',
      labelNames: ['inbound', 'provider'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers: [registry],
    }),
    guardrailHookDuration: new Histogram({
      name: GUARDRAIL_HOOK_DURATION_METRIC,
      help: 'Time the guardrail hook took to answer (or to fail), by phase',
      labelNames: ['phase'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    ttfb: new Histogram({
      name: UPSTREAM_TTFB_METRIC,
      help: 'Time until the upstream answered with headers',
      labelNames: ['provider'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
  };
}

function gauges(registry: Registry) {
  return {
    spansQueued: new Gauge({ name: SPANS_QUEUED_METRIC, help: 'Rows waiting in the batch writer', registers: [registry] }),
    spansDropped: new Gauge({ name: SPANS_DROPPED_METRIC, help: 'Rows dropped because the queue or spool was full', registers: [registry] }),
    spansWritten: new Gauge({ name: ROWS_WRITTEN_METRIC, help: 'Rows written to ClickHouse', registers: [registry] }),
    spoolBytes: new Gauge({ name: SPOOL_BYTES_METRIC, help: 'Bytes in the on-disk spool', registers: [registry] }),
    spoolFiles: new Gauge({ name: SPOOL_BATCHES_METRIC, help: 'Batches in the on-disk spool', registers: [registry] }),
    policyVersion: new Gauge({ name: POLICY_VERSION_METRIC, help: 'Active policy version', registers: [registry] }),
  };
}

/**
 * Prometheus metrics of one gateway instance (own registry: several apps may share a process in
 * tests). To add metrics: a prom-client metric on `registry` (name in shared/telemetry/metric-names.ts),
 * or `addText(source)` for text another module renders; `render()` serves both.
 */
export function createMetrics() {
  const registry = new Registry();
  // The default metrics' own names start with process_ / nodejs_: the prefix is ours only once.
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  const textSources: MetricsTextSource[] = [];
  const metrics = { registry, ...counters(registry), ...histograms(registry), ...gauges(registry) };
  return {
    ...metrics,
    /**
     * Counts one finished turn: request, tokens and cost by model, provider and cost center. A requested
     * model the policy does not define is labelled `other`: the client chooses that string, and every
     * distinct label value would be a series kept for the life of the process.
     */
    /** One call of a cost center's guardrail hook (a failure is a `timeout` or `error` result). */
    recordGuardrailHook(costCenter: string, phase: string, result: string, seconds: number) {
      metrics.guardrailHookCalls.inc({ cost_center: costCenter, phase, result });
      metrics.guardrailHookDuration.observe({ phase }, seconds);
    },
    recordTurn(row: TurnMetricsRow, isPolicyModel: (model: string) => boolean) {
      const model = row.served_model || (isPolicyModel(row.requested_model) ? row.requested_model : 'other');
      const usage = { model, provider: row.provider, cost_center: row.cost_center };
      metrics.requests.inc({ inbound: row.inbound_protocol, status: String(row.status_code), code: row.error_code, ...usage });
      metrics.latency.observe({ inbound: row.inbound_protocol, provider: row.provider }, row.duration_ms / 1000);
      const tokens: Record<(typeof TOKEN_TYPES)[number], number> = {
        input: row.input_tokens,
        cached_input: row.cached_input_tokens,
        cache_write: row.cache_write_tokens,
        output: row.output_tokens,
        reasoning: row.reasoning_tokens,
      };
      for (const type of TOKEN_TYPES) if (tokens[type] > 0) metrics.tokens.inc({ type, ...usage }, tokens[type]);
      if (row.cost_usd > 0) metrics.cost.inc(usage, row.cost_usd);
    },
    /** Appends text rendered elsewhere (e.g. the circuit breakers) to every scrape. */
    addText(source: MetricsTextSource) {
      textSources.push(source);
    },
    /** The whole exposition: registry, then the text sources, without blank lines. */
    async render(extra = ''): Promise<string> {
      const parts = [await registry.metrics(), ...textSources.map((source) => source()), extra];
      return `${parts.join('\n').split('\n').filter((line) => line.trim() !== '').join('\n')}\n`;
    },
  };
}

export type GatewayMetrics = ReturnType<typeof createMetrics>;
