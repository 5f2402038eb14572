/**
 * The OTLP trace request in its JSON mapping (lowerCamelCase field names, ids as hex, 64-bit integers as
 * decimal strings or numbers), which is also what the protobuf decoder produces.
 * @see https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
 */
export interface OtlpTraceRequest {
  resourceSpans?: OtlpResourceSpans[];
}

export interface OtlpResourceSpans {
  resource?: { attributes?: OtlpKeyValue[]; droppedAttributesCount?: number };
  scopeSpans?: OtlpScopeSpans[];
  schemaUrl?: string;
}

export interface OtlpScopeSpans {
  scope?: { name?: string; version?: string; attributes?: OtlpKeyValue[] };
  spans?: OtlpSpan[];
  schemaUrl?: string;
}

/** Integers above 2^53 arrive as strings; old JS exporters sent `{low, high}` pairs. */
export type OtlpLong = string | number | { low: number; high: number };

export interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  parentSpanId?: string;
  flags?: number;
  name?: string;
  kind?: number | string;
  startTimeUnixNano?: OtlpLong;
  endTimeUnixNano?: OtlpLong;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
  events?: OtlpEvent[];
  droppedEventsCount?: number;
  links?: OtlpLink[];
  droppedLinksCount?: number;
  status?: { code?: number | string; message?: string };
}

export interface OtlpEvent {
  timeUnixNano?: OtlpLong;
  name?: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpLink {
  traceId?: string;
  spanId?: string;
  traceState?: string;
  attributes?: OtlpKeyValue[];
  droppedAttributesCount?: number;
}

export interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}

export interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: OtlpLong;
  doubleValue?: number | string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  /** base64 */
  bytesValue?: string;
}

/** A `gatehouse.otel_spans` row as inserted (JSONEachRow). */
export interface OtelSpanRow {
  start_time: string;
  end_time: string;
  duration_ns: string;
  trace_id: string;
  span_id: string;
  parent_span_id: string;
  trace_state: string;
  name: string;
  kind: string;
  service_name: string;
  scope_name: string;
  scope_version: string;
  status_code: string;
  status_message: string;
  attributes: Record<string, string>;
  resource_attributes: Record<string, string>;
  events: string;
  links: string;
  dropped_attributes_count: number;
  dropped_events_count: number;
  dropped_links_count: number;
}
