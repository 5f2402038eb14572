import type { Attributes } from '@opentelemetry/api';
import { attributeNameOf } from '../shared/telemetry/span-attributes.ts';
import type { SpanRow } from '../shared/telemetry/turn-record.ts';

const STRING_COLUMNS = [
  'ts', 'request_id', 'session_id', 'turn_id', 'developer', 'identity', 'cost_center', 'repo', 'key_id', 'requested_model',
  'served_model', 'provider', 'provider_type', 'inbound_protocol', 'error_code', 'error_message', 'budget_stage',
  'downgraded_from', 'fallback_from', 'hop_reason', 'attempts', 'rule_id', 'experiment_arm', 'reasoning_effort', 'requested_reasoning_effort', 'dry_run_decision', 'client', 'capture', 'price_source', 'guardrail_hook',
] as const satisfies readonly (keyof SpanRow)[];
const NUMBER_COLUMNS = [
  'turn_seq', 'status_code', 'input_tokens', 'cached_input_tokens', 'cache_write_tokens', 'output_tokens', 'reasoning_tokens',
  'cost_usd', 'guardrail_findings', 'policy_version', 'tool_call_count', 'input_token_estimate', 'duration_ms', 'ttfb_ms',
] as const satisfies readonly (keyof SpanRow)[];
const BOOLEAN_COLUMNS = ['stream', 'rule_dry_run'] as const satisfies readonly (keyof SpanRow)[];
const ARRAY_COLUMNS = ['tags', 'translation_warnings'] as const satisfies readonly (keyof SpanRow)[];

const pairs = <T extends readonly (keyof SpanRow)[]>(columns: T) => columns.map((column) => [column, attributeNameOf(column)] as const);
const STRING_PAIRS = pairs(STRING_COLUMNS);
const NUMBER_PAIRS = pairs(NUMBER_COLUMNS);
const BOOLEAN_PAIRS = pairs(BOOLEAN_COLUMNS);
const ARRAY_PAIRS = pairs(ARRAY_COLUMNS);

type ColumnKind = 'string' | 'number' | 'boolean' | 'array';
const COLUMNS: readonly (readonly [column: keyof SpanRow, attribute: string, kind: ColumnKind])[] = [
  ...STRING_PAIRS.map(([column, name]) => [column, name, 'string'] as const),
  ...NUMBER_PAIRS.map(([column, name]) => [column, name, 'number'] as const),
  ...BOOLEAN_PAIRS.map(([column, name]) => [column, name, 'boolean'] as const),
  ...ARRAY_PAIRS.map(([column, name]) => [column, name, 'array'] as const),
];

/**
 * Maps a turn span's attributes (OTel or OTLP-decoded) back to its `gatehouse.spans` row for an
 * insert: strings, finite numbers, booleans and string arrays, and only the columns whose value
 * differs from the column type's default ('', 0, false, []), which ClickHouse fills in for omitted
 * fields (no column of `gatehouse.spans` has a DEFAULT expression): the shorter JSON costs less to
 * encode and to parse. One keyed lookup per column (a for…in over the span's attributes, a
 * dictionary-mode object, measured slower).
 */
export function spanInsertRowFromAttributes(attributes: Attributes, traceId: string, spanId: string): Record<string, unknown> {
  const row: Record<string, unknown> = { trace_id: traceId, span_id: spanId };
  for (const [column, name, kind] of COLUMNS) {
    const value = attributes[name];
    if (value === undefined || value === null) continue;
    if (kind === 'string') {
      const text = typeof value === 'string' ? value : String(value);
      if (text !== '') row[column] = text;
    } else if (kind === 'number') {
      const number = typeof value === 'number' ? value : Number(value);
      if (number !== 0 && Number.isFinite(number)) row[column] = number;
    } else if (kind === 'boolean') {
      if (value === true) row[column] = true;
    } else if (Array.isArray(value) && value.length > 0) {
      row[column] = value.map(String);
    }
  }
  return row;
}

/**
 * The same row as `spanInsertRowFromAttributes`, already encoded as its JSONEachRow line (equal to
 * `JSON.stringify` of that row): the span processor's path, once per turn. Building the line
 * directly skips a ~30-key object, which V8 keeps as a slow dictionary and serialises on its slow path.
 */
export function spanInsertLineFromAttributes(attributes: Attributes, traceId: string, spanId: string): string {
  let line = `{"trace_id":${JSON.stringify(traceId)},"span_id":${JSON.stringify(spanId)}`;
  for (const [column, name, kind] of COLUMNS) {
    const value = attributes[name];
    if (value === undefined || value === null) continue;
    if (kind === 'string') {
      const text = typeof value === 'string' ? value : String(value);
      if (text !== '') line += `,"${column}":${JSON.stringify(text)}`;
    } else if (kind === 'number') {
      const number = typeof value === 'number' ? value : Number(value);
      // String() of a finite number is exactly its JSON.
      if (number !== 0 && Number.isFinite(number)) line += `,"${column}":${String(number)}`;
    } else if (kind === 'boolean') {
      if (value === true) line += `,"${column}":true`;
    } else if (Array.isArray(value) && value.length > 0) {
      line += `,"${column}":${JSON.stringify(value.map(String))}`;
    }
  }
  return `${line}}`;
}

/**
 * A turn's `gatehouse.spans` line straight from its row: the same line `spanInsertLineFromAttributes`
 * makes of the span the gateway's tracer would build from that row (empty values left off), without
 * building the span. The request path's encoder: the OpenTelemetry span (~40 attributes set, then read
 * back) cost more than everything else that records a turn.
 */
export function spanInsertLine(row: Omit<SpanRow, 'trace_id' | 'span_id'>, traceId: string, spanId: string): string {
  let line = `{"trace_id":${JSON.stringify(traceId)},"span_id":${JSON.stringify(spanId)}`;
  for (const [column, , kind] of COLUMNS) {
    const value = (row as Record<string, unknown>)[column];
    if (kind === 'string') {
      if (typeof value === 'string' && value !== '') line += `,"${column}":${JSON.stringify(value)}`;
    } else if (kind === 'number') {
      if (typeof value === 'number' && value !== 0 && Number.isFinite(value)) line += `,"${column}":${String(value)}`;
    } else if (kind === 'boolean') {
      if (value === true) line += `,"${column}":true`;
    } else if (Array.isArray(value) && value.length > 0) {
      line += `,"${column}":${JSON.stringify(value.map(String))}`;
    }
  }
  return `${line}}`;
}
