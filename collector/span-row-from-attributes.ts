import type { Attributes } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { attributeNameOf } from '../shared/telemetry/span-attributes.ts';
import type { SpanRow } from '../shared/telemetry/turn-record.ts';

const STRING_COLUMNS = [
  'ts', 'request_id', 'session_id', 'turn_id', 'developer', 'identity', 'cost_center', 'repo', 'key_id', 'requested_model',
  'served_model', 'provider', 'provider_type', 'inbound_protocol', 'error_code', 'error_message', 'budget_stage',
  'downgraded_from', 'fallback_from', 'hop_reason', 'attempts', 'rule_id', 'dry_run_decision', 'client', 'capture',
] as const satisfies readonly (keyof SpanRow)[];
const NUMBER_COLUMNS = [
  'turn_seq', 'status_code', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens',
  'cost_usd', 'policy_version', 'tool_call_count', 'input_token_estimate', 'duration_ms', 'ttfb_ms',
] as const satisfies readonly (keyof SpanRow)[];
const BOOLEAN_COLUMNS = ['stream', 'rule_dry_run'] as const satisfies readonly (keyof SpanRow)[];
const ARRAY_COLUMNS = ['tags', 'translation_warnings'] as const satisfies readonly (keyof SpanRow)[];

const pairs = <T extends readonly (keyof SpanRow)[]>(columns: T) => columns.map((column) => [column, attributeNameOf(column)] as const);
const STRING_PAIRS = pairs(STRING_COLUMNS);
const NUMBER_PAIRS = pairs(NUMBER_COLUMNS);
const BOOLEAN_PAIRS = pairs(BOOLEAN_COLUMNS);
const ARRAY_PAIRS = pairs(ARRAY_COLUMNS);

/** Maps a turn span's attributes (OTel or OTLP-decoded) back to its `gatehouse.spans` row. */
export function spanRowFromAttributes(attributes: Attributes, traceId: string, spanId: string): SpanRow {
  const row: Record<string, unknown> = { trace_id: traceId, span_id: spanId };
  for (const [column, name] of STRING_PAIRS) {
    const value = attributes[name];
    row[column] = value === undefined || value === null ? '' : String(value);
  }
  for (const [column, name] of NUMBER_PAIRS) {
    const value = Number(attributes[name] ?? 0);
    row[column] = Number.isFinite(value) ? value : 0;
  }
  for (const [column, name] of BOOLEAN_PAIRS) row[column] = attributes[name] === true;
  for (const [column, name] of ARRAY_PAIRS) {
    const value = attributes[name];
    row[column] = Array.isArray(value) ? value.map(String) : [];
  }
  return row as unknown as SpanRow;
}

const hrTimeToIso = (time: [number, number]) => new Date(time[0] * 1000 + time[1] / 1e6).toISOString();

export function upstreamAttemptRowFromSpan(span: ReadableSpan): Record<string, unknown> {
  const { traceId, spanId } = span.spanContext();
  const attributes = span.attributes;
  return {
    ts: hrTimeToIso(span.startTime),
    trace_id: traceId,
    span_id: spanId,
    request_id: String(attributes['gatehouse.request_id'] ?? ''),
    model: String(attributes['gen_ai.request.model'] ?? ''),
    provider: String(attributes['gen_ai.provider.name'] ?? ''),
    status_code: Number(attributes['http.response.status_code'] ?? 0),
    error_code: String(attributes['error.type'] ?? ''),
    hop_reason: String(attributes['gatehouse.hop_reason'] ?? ''),
    duration_ms: span.duration[0] * 1000 + span.duration[1] / 1e6,
  };
}
