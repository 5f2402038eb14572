import { encodeOpaque } from '../../canonical/opaque-envelope.ts';
import type { CanonicalResponse } from '../../canonical/response.ts';
import type { CanonicalUsage } from '../../canonical/usage.ts';
import type { RenderContext } from '../render-context.ts';

type Json = Record<string, unknown>;

/** The `response` object of the Responses API (streamed snapshots and non-streaming bodies). */
export function responseObject(context: RenderContext, status: string, output: Json[], usage: Json | null | undefined): Json {
  const body = context.body;
  return {
    id: `resp_${context.requestId.replace(/[^A-Za-z0-9]/g, '')}`,
    object: 'response',
    created_at: context.createdAt,
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: body['instructions'] ?? null,
    max_output_tokens: body['max_output_tokens'] ?? null,
    model: context.model,
    output,
    parallel_tool_calls: body['parallel_tool_calls'] ?? true,
    previous_response_id: null,
    reasoning: body['reasoning'] ?? { effort: null, summary: null },
    store: body['store'] ?? false,
    temperature: body['temperature'] ?? null,
    text: body['text'] ?? { format: { type: 'text' } },
    tool_choice: body['tool_choice'] ?? 'auto',
    tools: body['tools'] ?? [],
    top_p: body['top_p'] ?? null,
    truncation: 'disabled',
    usage: usage ?? null,
    metadata: body['metadata'] ?? {},
  };
}

/** Canonical usage → Responses usage (`input_tokens` includes cached). */
export function responsesUsage(usage: CanonicalUsage): Json {
  return {
    input_tokens: usage.inputTokens,
    input_tokens_details: { cached_tokens: usage.cachedInputTokens, ...(usage.cacheWriteTokens > 0 ? { cache_write_tokens: usage.cacheWriteTokens } : {}) },
    output_tokens: usage.outputTokens,
    output_tokens_details: { reasoning_tokens: usage.reasoningTokens },
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
}

/** A whole canonical response → non-streaming Responses body. */
export function renderResponsesBody(response: CanonicalResponse, context: RenderContext): Json {
  const prefix = context.requestId.replace(/[^A-Za-z0-9]/g, '');
  const output: Json[] = response.output.map((item, index) => {
    if (item.type === 'text') return { id: `msg_${prefix}_${index}`, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: item.text, annotations: [] }] };
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
