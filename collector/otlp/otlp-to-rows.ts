import type { OtelSpanRow, OtlpAnyValue, OtlpKeyValue, OtlpLong, OtlpSpan, OtlpTraceRequest } from './otlp-types.ts';

const SPAN_KINDS = ['UNSPECIFIED', 'INTERNAL', 'SERVER', 'CLIENT', 'PRODUCER', 'CONSUMER'] as const;
const STATUS_CODES = ['UNSET', 'OK', 'ERROR'] as const;

/** The result of mapping one export request: rows to insert and spans refused with why. */
export interface OtlpMappingResult {
  rows: OtelSpanRow[];
  rejectedSpans: number;
  errors: string[];
}

/** Nanoseconds since the epoch as a bigint, from any of the shapes exporters send. */
export function toNanos(value: OtlpLong | undefined): bigint {
  if (value === undefined || value === null) return 0n;
  if (typeof value === 'object') return (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
  if (typeof value === 'number') return BigInt(Math.trunc(value));
  return /^\d+$/.test(value) ? BigInt(value) : 0n;
}

/** `YYYY-MM-DD hh:mm:ss.nnnnnnnnn` (UTC), the text ClickHouse reads into DateTime64(9) without rounding. */
export function formatNanos(nanos: bigint): string {
  const seconds = nanos / 1_000_000_000n;
  const fraction = (nanos % 1_000_000_000n).toString().padStart(9, '0');
  const iso = new Date(Number(seconds) * 1000).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}.${fraction}`;
}

/** Ids arrive as hex in OTLP/JSON (the spec) but as base64 from some older JSON encoders. */
export function normalizeId(value: string | undefined, bytes: number): string {
  if (!value) return '';
  if (value.length === bytes * 2 && /^[0-9a-fA-F]+$/.test(value)) return value.toLowerCase();
  const decoded = Buffer.from(value, 'base64');
  return decoded.length === bytes ? decoded.toString('hex') : '';
}

function enumName(value: number | string | undefined, names: readonly string[], prefix: string): string {
  if (typeof value === 'number') return names[value] ?? String(value);
  if (typeof value === 'string' && value.length > 0) return value.startsWith(prefix) ? value.slice(prefix.length) : value;
  return names[0] ?? '';
}

/** An attribute value as plain JSON (for nested values) — numbers stay numbers where they fit. */
function anyValueToJson(value: OtlpAnyValue | undefined): unknown {
  if (!value) return null;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    const nanos = toNanos(value.intValue);
    return nanos <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(nanos) : nanos.toString();
  }
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValueToJson);
  if (value.kvlistValue !== undefined) return keyValuesToJson(value.kvlistValue.values);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return null;
}

function keyValuesToJson(values: OtlpKeyValue[] | undefined): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const item of values ?? []) result[item.key] = anyValueToJson(item.value);
  return result;
}

/** Flattens attributes for a Map(String, String) column: scalars as text, arrays and maps as JSON. */
export function flattenAttributes(values: OtlpKeyValue[] | undefined): Record<string, string> {
  const result: Record<string, string> = {};
  for (const item of values ?? []) {
    if (typeof item?.key !== 'string') continue;
    const value = item.value;
    if (value?.intValue !== undefined) {
      result[item.key] = toNanos(value.intValue).toString();
      continue;
    }
    const json = anyValueToJson(value);
    result[item.key] = typeof json === 'string' ? json : json === null ? '' : JSON.stringify(json);
  }
  return result;
}

function spanToRow(span: OtlpSpan, resource: Record<string, string>, scope: { name?: string; version?: string }): OtelSpanRow | string {
  const traceId = normalizeId(span.traceId, 16);
  const spanId = normalizeId(span.spanId, 8);
  if (!traceId || /^0+$/.test(traceId)) return `span "${span.name ?? ''}": missing or invalid traceId`;
  if (!spanId || /^0+$/.test(spanId)) return `span "${span.name ?? ''}": missing or invalid spanId`;
  const start = toNanos(span.startTimeUnixNano);
  const end = toNanos(span.endTimeUnixNano);
  return {
    start_time: formatNanos(start),
    end_time: formatNanos(end),
    duration_ns: (end > start ? end - start : 0n).toString(),
    trace_id: traceId,
    span_id: spanId,
    parent_span_id: normalizeId(span.parentSpanId, 8),
    trace_state: span.traceState ?? '',
    name: span.name ?? '',
    kind: enumName(span.kind, SPAN_KINDS, 'SPAN_KIND_'),
    service_name: resource['service.name'] || 'unknown_service',
    scope_name: scope.name ?? '',
    scope_version: scope.version ?? '',
    status_code: enumName(span.status?.code, STATUS_CODES, 'STATUS_CODE_'),
    status_message: span.status?.message ?? '',
    attributes: flattenAttributes(span.attributes),
    resource_attributes: resource,
    events: JSON.stringify(
      (span.events ?? []).map((event) => ({
        time: formatNanos(toNanos(event.timeUnixNano)),
        name: event.name ?? '',
        attributes: keyValuesToJson(event.attributes),
      })),
    ),
    links: JSON.stringify(
      (span.links ?? []).map((link) => ({
        trace_id: normalizeId(link.traceId, 16),
        span_id: normalizeId(link.spanId, 8),
        trace_state: link.traceState ?? '',
        attributes: keyValuesToJson(link.attributes),
      })),
    ),
    dropped_attributes_count: span.droppedAttributesCount ?? 0,
    dropped_events_count: span.droppedEventsCount ?? 0,
    dropped_links_count: span.droppedLinksCount ?? 0,
  };
}

/**
 * Maps an OTLP export request to `otel_spans` rows. Spans without a valid trace or span id are
 * rejected (counted and explained, as OTLP's partial success expects); the rest are kept.
 */
export function otlpToRows(request: OtlpTraceRequest): OtlpMappingResult {
  const result: OtlpMappingResult = { rows: [], rejectedSpans: 0, errors: [] };
  if (!request || typeof request !== 'object' || (request.resourceSpans !== undefined && !Array.isArray(request.resourceSpans))) {
    throw new TypeError('body is not an ExportTraceServiceRequest (expected {"resourceSpans":[…]})');
  }
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = flattenAttributes(resourceSpans?.resource?.attributes);
    for (const scopeSpans of resourceSpans?.scopeSpans ?? []) {
      for (const span of scopeSpans?.spans ?? []) {
        const row = spanToRow(span, resource, scopeSpans.scope ?? {});
        if (typeof row === 'string') {
          result.rejectedSpans += 1;
          if (result.errors.length < 5) result.errors.push(row);
        } else {
          result.rows.push(row);
        }
      }
    }
  }
  return result;
}
