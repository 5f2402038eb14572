import type { FinishReason } from '../../canonical/finish-reason.ts';
import type { CanonicalResponse } from '../../canonical/response.ts';
import type { CanonicalUsage } from '../../canonical/usage.ts';
import type { RenderContext } from '../render-context.ts';

type Json = Record<string, unknown>;

export function chatCompletionId(context: RenderContext): string {
  return `chatcmpl-${context.requestId.replace(/[^A-Za-z0-9]/g, '')}`;
}

export function chatFinishReason(reason: FinishReason | undefined): string {
  switch (reason?.unified) {
    case 'length':
      return 'length';
    case 'tool-calls':
      return 'tool_calls';
    case 'content-filter':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function chatUsage(usage: CanonicalUsage): Json {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedInputTokens },
    completion_tokens_details: { reasoning_tokens: usage.reasoningTokens },
  };
}

/** A whole canonical response → `chat.completion` body. */
export function renderChatBody(response: CanonicalResponse, context: RenderContext): Json {
  const text = response.output.flatMap((item) => (item.type === 'text' ? [item.text] : [])).join('');
  const reasoning = response.output.flatMap((item) => (item.type === 'reasoning' && item.text !== '' ? [item.text] : [])).join('\n\n');
  const toolCalls = response.output.flatMap((item): Json[] =>
    item.type !== 'tool-call' ? [] : item.kind === 'custom' ? [{ id: item.callId, type: 'custom', custom: { name: item.name, input: item.input } }] : [{ id: item.callId, type: 'function', function: { name: item.name, arguments: item.input } }],
  );
  const hasToolCalls = toolCalls.length > 0;
  return {
    id: chatCompletionId(context),
    object: 'chat.completion',
    created: context.createdAt,
    model: context.model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: text === '' && hasToolCalls ? null : text, refusal: null, ...(reasoning !== '' ? { reasoning_content: reasoning } : {}), ...(hasToolCalls ? { tool_calls: toolCalls } : {}) },
        logprobs: null,
        finish_reason: hasToolCalls && response.finish?.unified !== 'length' ? 'tool_calls' : chatFinishReason(response.finish),
      },
    ],
    ...(response.usage !== undefined ? { usage: chatUsage(response.usage) } : {}),
  };
}
