import type { CanonicalEvent } from '../../canonical/event.ts';
import type { CanonicalUsage } from '../../canonical/usage.ts';
import { ERROR_CODES } from '../../errors/error-codes.ts';
import { sseFrame, type RenderContext, type StreamRenderer } from '../render-context.ts';
import { chatCompletionId, chatFinishReason, chatUsage } from './render-response.ts';

type Json = Record<string, unknown>;

/**
 * Canonical events → `chat.completion.chunk` SSE (data-only), tool call deltas keyed by `index`,
 * a usage chunk with empty `choices` when `stream_options.include_usage`, then `data: [DONE]`.
 * An in-band error is `data: {"error":{…}}` and no `[DONE]`.
 */
export function createChatStreamRenderer(context: RenderContext): StreamRenderer {
  const id = chatCompletionId(context);
  const includeUsage = ((context.body['stream_options'] ?? {}) as Json)['include_usage'] === true;
  const toolIndexes = new Map<string, { index: number; kind: 'function' | 'custom' }>();
  let roleSent = false;
  let usage: CanonicalUsage | undefined;
  let sawToolCall = false;
  const chunk = (delta: Json, finishReason: string | null = null): string =>
    sseFrame(undefined, { id, object: 'chat.completion.chunk', created: context.createdAt, model: context.model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
  const withRole = (delta: Json): Json => {
    if (roleSent) return delta;
    roleSent = true;
    return { role: 'assistant', ...delta };
  };
  const render = (event: CanonicalEvent): string => {
    switch (event.type) {
      case 'response-metadata':
        return roleSent ? '' : chunk(withRole({ content: '' }));
      case 'text-delta':
        return event.delta === '' ? '' : chunk(withRole({ content: event.delta }));
      case 'reasoning-delta':
        return event.delta === '' ? '' : chunk(withRole({ reasoning_content: event.delta }));
      case 'tool-call-start': {
        sawToolCall = true;
        const index = toolIndexes.size;
        toolIndexes.set(event.id, { index, kind: event.kind });
        const call = event.kind === 'custom' ? { index, id: event.callId, type: 'custom', custom: { name: event.name, input: '' } } : { index, id: event.callId, type: 'function', function: { name: event.name, arguments: '' } };
        return chunk(withRole({ tool_calls: [call] }));
      }
      case 'tool-call-delta': {
        const tool = toolIndexes.get(event.id);
        if (tool === undefined || event.delta === '') return '';
        return chunk({ tool_calls: [tool.kind === 'custom' ? { index: tool.index, custom: { input: event.delta } } : { index: tool.index, function: { arguments: event.delta } }] });
      }
      case 'usage':
        usage = event.usage;
        return '';
      case 'finish': {
        const reason = sawToolCall && event.reason.unified !== 'length' ? 'tool_calls' : chatFinishReason(event.reason);
        let out = chunk(withRole({}), reason);
        if (includeUsage && usage !== undefined) out += sseFrame(undefined, { id, object: 'chat.completion.chunk', created: context.createdAt, model: context.model, choices: [], usage: chatUsage(usage) });
        return out + 'data: [DONE]\n\n';
      }
      case 'error':
        return sseFrame(undefined, { error: { message: event.message, type: ERROR_CODES[event.code].openaiType, code: event.code, param: null, request_id: context.requestId } });
      default:
        return '';
    }
  };
  return { contentType: 'text/event-stream; charset=utf-8', render };
}
