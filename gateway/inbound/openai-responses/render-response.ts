import { encodeOpaque } from '../../canonical/opaque-envelope.ts';
import type { CanonicalResponse } from '../../canonical/response.ts';
import type { CanonicalUsage } from '../../canonical/usage.ts';
import type { RenderContext } from '../render-context.ts';

type Json = Record<string, unknown>;

const orNull = (value: unknown): unknown => value ?? null;
const numberOr = (value: unknown, fallback: number): number => (typeof value === 'number' ? value : fallback);

/**
 * Echoed tools: function tools always carry `strict` (the Responses API defaults it to true when
 * the request omits it), everything else as the client sent it.
 */
function echoTools(tools: unknown): unknown[] {
  if (!Array.isArray(tools)) return [];
  return tools.map((tool) => {
    if (typeof tool !== 'object' || tool === null) return tool;
    const record = tool as Json;
    if (record['type'] !== 'function') return record;
    return { ...record, parameters: record['parameters'] ?? null, strict: typeof record['strict'] === 'boolean' ? record['strict'] : true };
  });
}

/**
 * The `response` object of the Responses API (streamed snapshots and non-streaming bodies): every
 * field the Open Responses specification requires, with the request's value or the API's
 * documented default (sampling 1, penalties 0, service tier "default").
 */
export function responseObject(context: RenderContext, status: string, output: Json[], usage: Json | null | undefined): Json {
  const body = context.body;
  return {
    id: `resp_${context.requestId.replace(/[^A-Za-z0-9]/g, '')}`,
    object: 'response',
    created_at: context.createdAt,
    completed_at: status === 'completed' ? Math.max(context.createdAt, Math.floor(Date.now() / 1000)) : null,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: orNull(body['instructions']),
    max_output_tokens: orNull(body['max_output_tokens']),
    max_tool_calls: orNull(body['max_tool_calls']),
    model: context.model,
    output,
    parallel_tool_calls: body['parallel_tool_calls'] ?? true,
    previous_response_id: orNull(body['previous_response_id']),
    reasoning: body['reasoning'] ?? { effort: null, summary: null },
    store: body['store'] ?? false,
    temperature: numberOr(body['temperature'], 1),
    top_p: numberOr(body['top_p'], 1),
    presence_penalty: numberOr(body['presence_penalty'], 0),
    frequency_penalty: numberOr(body['frequency_penalty'], 0),
    top_logprobs: numberOr(body['top_logprobs'], 0),
    text: body['text'] ?? { format: { type: 'text' } },
    tool_choice: body['tool_choice'] ?? 'auto',
    tools: echoTools(body['tools']),
    truncation: body['truncation'] ?? 'disabled',
    usage: usage ?? null,
    // Open Responses does not require it and OpenAI's spec has no null for it: only when sent.
    ...(typeof body['user'] === 'string' ? { user: body['user'] } : {}),
    service_tier: typeof body['service_tier'] === 'string' && body['service_tier'] !== 'auto' ? body['service_tier'] : 'default',
    safety_identifier: orNull(body['safety_identifier']),
    prompt_cache_key: orNull(body['prompt_cache_key']),
    metadata: body['metadata'] ?? {},
  };
}

/** Canonical usage → Responses usage (`input_tokens` includes cached). */
export function responsesUsage(usage: CanonicalUsage): Json {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens, cache_write_tokens: usage.cacheWriteTokens },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** A whole canonical response → non-streaming Responses body. */
export function renderResponsesBody(response: CanonicalResponse, context: RenderContext): Json {
  const prefix = context.requestId.replace(/[^A-Za-z0-9]/g, '');
  const output: Json[] = response.output.map((item, index) => {
    if (item.type === 'text') return { id: `msg_${prefix}_${index}`, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: item.text, annotations: [], logprobs: [] }] };
    if (item.type === 'reasoning') {
      return {
        id: `rs_${prefix}_${index}`,
        type: 'reasoning',
        summary: item.text !== '' ? [{ type: 'summary_text', text: item.text }] : [],
        ...(item.opaque !== undefined ? { encrypted_content: encodeOpaque(item.opaque, item.opaque.family === 'openai' ? undefined : item.text) } : {}),
      };
    }
    const namespace = item.namespace !== undefined ? { namespace: item.namespace } : {};
    return item.kind === 'custom'
      ? { id: `ctc_${prefix}_${index}`, type: 'custom_tool_call', status: 'completed', call_id: item.callId, name: item.name, ...namespace, input: item.input }
      : { id: `fc_${prefix}_${index}`, type: 'function_call', status: 'completed', call_id: item.callId, name: item.name, ...namespace, arguments: item.input };
  });
  const incomplete = response.finish?.unified === 'length' || response.finish?.unified === 'content-filter';
  const body = responseObject(context, incomplete ? 'incomplete' : 'completed', output, response.usage !== undefined ? responsesUsage(response.usage) : null);
  if (incomplete) body['incomplete_details'] = { reason: response.finish?.unified === 'length' ? 'max_output_tokens' : 'content_filter' };
  body['output_text'] = response.output.flatMap((item) => (item.type === 'text' ? [item.text] : [])).join('');
  return body;
}
