import type { SpanRow } from './turn-record.ts';

/**
 * How each `gatehouse.spans` column travels as an OpenTelemetry attribute: GenAI semantic
 * conventions where one exists, `gatehouse.<column>` otherwise. The collector maps back with the
 * same table, so the row and the span can never drift apart.
 * @see https://opentelemetry.io/docs/specs/semconv/gen-ai/gen-ai-spans/
 */
export const SEMCONV_ATTRIBUTE_OF: Partial<Record<keyof SpanRow, string>> = {
  session_id: 'gen_ai.conversation.id',
  requested_model: 'gen_ai.request.model',
  served_model: 'gen_ai.response.model',
  provider: 'gen_ai.provider.name',
  input_tokens: 'gen_ai.usage.input_tokens',
  output_tokens: 'gen_ai.usage.output_tokens',
  status_code: 'http.response.status_code',
  error_code: 'error.type',
};

const NAME_CACHE = new Map<string, string>();

/** The attribute carrying `column` (cached: this runs for every column of every span). */
export function attributeNameOf(column: keyof SpanRow): string {
  let name = NAME_CACHE.get(column);
  if (name === undefined) NAME_CACHE.set(column, (name = SEMCONV_ATTRIBUTE_OF[column] ?? `gatehouse.${column}`));
  return name;
}

export const TURN_SPAN_NAME = 'gatehouse.turn';
export const ATTEMPT_SPAN_NAME = 'gatehouse.upstream_attempt';
