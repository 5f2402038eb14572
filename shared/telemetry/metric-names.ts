/**
 * Names of the gateway's Prometheus metrics (docs/OPERATIONS.md lists them with their labels;
 * deploy/grafana-dashboard.json charts them). Every name starts with `gatehouse_`, once.
 * @see ../../docs/OPERATIONS.md
 */
export const METRIC_PREFIX = 'gatehouse_';

export const REQUESTS_METRIC = 'gatehouse_requests_total';
export const REQUEST_DURATION_METRIC = 'gatehouse_request_duration_seconds';
export const UPSTREAM_TTFB_METRIC = 'gatehouse_upstream_ttfb_seconds';
export const UPSTREAM_ERRORS_METRIC = 'gatehouse_upstream_errors_total';
export const FALLBACK_HOPS_METRIC = 'gatehouse_fallback_hops_total';
export const TOKENS_METRIC = 'gatehouse_tokens_total';
export const COST_METRIC = 'gatehouse_cost_usd_total';
export const DENIALS_METRIC = 'gatehouse_denials_total';
export const BUDGET_STAGE_TRANSITIONS_METRIC = 'gatehouse_budget_stage_transitions_total';
export const SPANS_QUEUED_METRIC = 'gatehouse_spans_queued';
export const SPANS_DROPPED_METRIC = 'gatehouse_spans_dropped_total';
export const ROWS_WRITTEN_METRIC = 'gatehouse_rows_written_total';
export const SPOOL_BYTES_METRIC = 'gatehouse_spool_bytes';
export const SPOOL_BATCHES_METRIC = 'gatehouse_spool_batches';
export const POLICY_VERSION_METRIC = 'gatehouse_policy_version';
export const GUARDRAIL_HOOK_CALLS_METRIC = 'gatehouse_guardrail_hook_calls_total';
export const GUARDRAIL_HOOK_DURATION_METRIC = 'gatehouse_guardrail_hook_duration_seconds';

/** Values of the `type` label of {@link TOKENS_METRIC}, as on spans: input includes cached_input and cache_write, output includes reasoning. */
export const TOKEN_TYPES = ['input', 'cached_input', 'cache_write', 'output', 'reasoning'] as const;
