import { describe, expect, it } from 'vitest';
import { spanInsertLine } from '../../gateway/telemetry/span-insert-line.ts';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import { spanRow } from '../helpers/span-row.ts';

/** The row ClickHouse receives: every column but those holding their type's default ('', 0, false, []). */
function withoutDefaults(row: SpanRow): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).filter(([, value]) => !(value === '' || value === 0 || value === false || (Array.isArray(value) && value.length === 0) || (typeof value === 'number' && !Number.isFinite(value)))));
}

describe('span row line (a turn is encoded straight to its JSONEachRow line)', () => {
  const cases: [string, Partial<SpanRow>][] = [
    ['a served streaming turn', {}],
    ['text JSON must escape', { error_message: 'upstream said "no"\nline 2\t\\ \u0000 \u2028 é 漢字 🙂', repo: 'a"b' }],
    ['arrays, fractions and large numbers', { tags: ['team:a', 'ci "x"'], translation_warnings: ['dropped web_search'], cost_usd: 0.000578125, duration_ms: 1234.5678, input_tokens: 2 ** 40 }],
    ['a denied turn with defaults left off', { status_code: 403, error_code: 'model_not_allowed', served_model: '', provider: '', provider_type: '', stream: false, input_tokens: 0, output_tokens: 0, cost_usd: 0, attempts: '' }],
  ];
  it.each(cases)('is one JSON line of the row without its defaults: %s', (_name, overrides) => {
    const row = spanRow(overrides);
    const { trace_id: traceId, span_id: spanId, ...turn } = row;
    const line = spanInsertLine(turn, traceId, spanId);
    expect(line).not.toContain('\n');
    expect(line.startsWith(`{"trace_id":${JSON.stringify(traceId)},"span_id":${JSON.stringify(spanId)}`)).toBe(true);
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(parsed).toEqual(withoutDefaults(row));
    expect(parsed.error_message ?? '').toBe(row.error_message);
    expect(parsed.cost_usd ?? 0).toBe(row.cost_usd);
  });

  it('leaves a non-finite number off and writes array items as strings', () => {
    const { trace_id: _trace, span_id: _span, ...turn } = spanRow({ duration_ms: Number.NaN, tags: ['1', '2'], turn_seq: 3 });
    const parsed = JSON.parse(spanInsertLine(turn, 't', 's')) as Record<string, unknown>;
    expect(parsed).not.toHaveProperty('duration_ms');
    expect(parsed.tags).toEqual(['1', '2']);
    expect(parsed.turn_seq).toBe(3);
  });
});
