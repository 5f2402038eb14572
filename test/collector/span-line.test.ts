import { describe, expect, it } from 'vitest';
import type { Attributes } from '@opentelemetry/api';
import { spanInsertLine, spanInsertLineFromAttributes, spanInsertRowFromAttributes } from '../../collector/span-row-from-attributes.ts';
import { attributeNameOf } from '../../shared/telemetry/span-attributes.ts';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import { spanRow } from '../helpers/span-row.ts';

/** A turn span's attributes as the gateway's tracer sets them (empty values left off). */
function attributesOf(row: SpanRow): Attributes {
  const attributes: Attributes = { 'gen_ai.operation.name': 'chat' };
  for (const [column, value] of Object.entries(row)) {
    if (column === 'trace_id' || column === 'span_id') continue;
    if (value === '' || value === 0 || value === false || (Array.isArray(value) && value.length === 0)) continue;
    attributes[attributeNameOf(column as keyof SpanRow)] = value as never;
  }
  return attributes;
}

describe('span row line (the span processor encodes each turn straight to its JSONEachRow line)', () => {
  const cases: [string, Partial<SpanRow>][] = [
    ['a served streaming turn', {}],
    ['text JSON must escape', { error_message: 'upstream said "no"\nline 2\t\\ \u0000 \u2028 é 漢字 🙂', repo: 'a"b' }],
    ['arrays, fractions and large numbers', { tags: ['team:a', 'ci "x"'], translation_warnings: ['dropped web_search'], cost_usd: 0.000578125, duration_ms: 1234.5678, input_tokens: 2 ** 40 }],
    ['a denied turn with defaults left off', { status_code: 403, error_code: 'model_not_allowed', served_model: '', provider: '', provider_type: '', stream: false, input_tokens: 0, output_tokens: 0, cost_usd: 0, attempts: '' }],
  ];
  it.each(cases)('is JSON.stringify of the row the OTLP intake builds: %s', (_name, overrides) => {
    const row = spanRow(overrides);
    const attributes = attributesOf(row);
    const line = spanInsertLineFromAttributes(attributes, row.trace_id, row.span_id);
    expect(line).toBe(JSON.stringify(spanInsertRowFromAttributes(attributes, row.trace_id, row.span_id)));
    expect(line).not.toContain('\n');
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed.error_message ?? '').toBe(row.error_message);
    expect(parsed.cost_usd ?? 0).toBe(row.cost_usd);
    // The gateway writes the line straight from the row (no span on the way): the same bytes.
    const { trace_id: traceId, span_id: spanId, ...turn } = row;
    expect(spanInsertLine(turn, traceId, spanId)).toBe(line);
  });

  it('carries attribute values of another type as the column type (as OTLP-decoded spans may)', () => {
    const attributes: Attributes = { 'gatehouse.turn_seq': '3', 'gen_ai.request.model': 7 as never, 'gatehouse.tags': [1, 2] as never, 'gatehouse.duration_ms': Number.NaN };
    expect(spanInsertLineFromAttributes(attributes, 't', 's')).toBe('{"trace_id":"t","span_id":"s","requested_model":"7","turn_seq":3,"tags":["1","2"]}');
    expect(spanInsertLineFromAttributes(attributes, 't', 's')).toBe(JSON.stringify(spanInsertRowFromAttributes(attributes, 't', 's')));
  });
});
