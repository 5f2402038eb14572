import type { SpanRow } from '../../shared/telemetry/turn-record.ts';

type ColumnKind = 'string' | 'number' | 'boolean' | 'array';

/** The columns of `gatehouse.spans` a turn's row fills, with the JSON kind of each. */
const COLUMNS: readonly (readonly [column: keyof SpanRow, kind: ColumnKind])[] = [
  ...(
    [
      'ts', 'request_id', 'session_id', 'turn_id', 'developer', 'identity', 'cost_center', 'repo', 'key_id', 'requested_model',
      'served_model', 'provider', 'provider_type', 'inbound_protocol', 'error_code', 'error_message', 'budget_stage',
      'downgraded_from', 'fallback_from', 'hop_reason', 'attempts', 'rule_id', 'experiment_arm', 'reasoning_effort', 'requested_reasoning_effort', 'dry_run_decision', 'client', 'capture', 'price_source', 'guardrail_hook',
    ] as const
  ).map((column) => [column, 'string'] as const),
  ...(
    [
      'turn_seq', 'status_code', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens',
      'cost_usd', 'guardrail_findings', 'policy_version', 'tool_call_count', 'input_token_estimate', 'duration_ms', 'ttfb_ms',
    ] as const
  ).map((column) => [column, 'number'] as const),
  ...(['stream', 'rule_dry_run'] as const).map((column) => [column, 'boolean'] as const),
  ...(['tags', 'translation_warnings'] as const).map((column) => [column, 'array'] as const),
];

/**
 * A turn's `gatehouse.spans` row as its JSONEachRow line, built straight from the row: only the columns
 * whose value differs from the column type's default ('', 0, false, []), which ClickHouse fills in for
 * omitted fields (no column of `gatehouse.spans` has a DEFAULT expression), so the line is shorter to
 * encode and to parse. Built as text: a ~30-key object is a slow dictionary for V8 and `JSON.stringify`.
 */
export function spanInsertLine(row: Omit<SpanRow, 'trace_id' | 'span_id'>, traceId: string, spanId: string): string {
  let line = `{"trace_id":${JSON.stringify(traceId)},"span_id":${JSON.stringify(spanId)}`;
  for (const [column, kind] of COLUMNS) {
    const value = (row as Record<string, unknown>)[column];
    if (kind === 'string') {
      if (typeof value === 'string' && value !== '') line += `,"${column}":${JSON.stringify(value)}`;
    } else if (kind === 'number') {
      // String() of a finite number is exactly its JSON.
      if (typeof value === 'number' && value !== 0 && Number.isFinite(value)) line += `,"${column}":${String(value)}`;
    } else if (kind === 'boolean') {
      if (value === true) line += `,"${column}":true`;
    } else if (Array.isArray(value) && value.length > 0) {
      line += `,"${column}":${JSON.stringify(value.map(String))}`;
    }
  }
  return `${line}}`;
}
