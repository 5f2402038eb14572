import type { NormalizedUsage, OutputToolCall } from '../../shared/telemetry/turn-record.ts';

interface ResponsesUsage {
  input_tokens?: number;
  output_tokens?: number;
  input_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number };
  output_tokens_details?: { reasoning_tokens?: number };
}

interface ChatUsage {
  prompt_tokens?: number;
  completion_tokens?: number;
  prompt_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number };
  completion_tokens_details?: { reasoning_tokens?: number };
}

export function usageFromResponses(usage: ResponsesUsage | undefined): NormalizedUsage | undefined {
  if (!usage) return undefined;
  return {
    inputTokens: usage.input_tokens ?? 0,
    cachedInputTokens: usage.input_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: usage.input_tokens_details?.cache_write_tokens ?? 0,
    outputTokens: usage.output_tokens ?? 0,
    reasoningTokens: usage.output_tokens_details?.reasoning_tokens ?? 0,
  };
}

export function usageFromChat(usage: ChatUsage | undefined): NormalizedUsage | undefined {
  if (!usage) return undefined;
  return {
    inputTokens: usage.prompt_tokens ?? 0,
    cachedInputTokens: usage.prompt_tokens_details?.cached_tokens ?? 0,
    cacheWriteTokens: usage.prompt_tokens_details?.cache_write_tokens ?? 0,
    outputTokens: usage.completion_tokens ?? 0,
    reasoningTokens: usage.completion_tokens_details?.reasoning_tokens ?? 0,
  };
}

/** Tool calls in a Responses `output` array, in the kind the client declared them. */
export function toolCallsFromResponsesOutput(output: unknown): OutputToolCall[] {
  if (!Array.isArray(output)) return [];
  const calls: OutputToolCall[] = [];
  for (const item of output as Record<string, unknown>[]) {
    if (item.type === 'function_call') {
      calls.push({ callId: String(item.call_id ?? ''), name: String(item.name ?? ''), kind: 'function', input: String(item.arguments ?? '') });
    } else if (item.type === 'custom_tool_call') {
      calls.push({ callId: String(item.call_id ?? ''), name: String(item.name ?? ''), kind: 'custom', input: String(item.input ?? '') });
    }
  }
  return calls;
}

/** Tool calls of a non-streaming Chat Completions answer. */
export function toolCallsFromChatMessage(message: unknown): OutputToolCall[] {
  const toolCalls = (message as { tool_calls?: { id?: string; function?: { name?: string; arguments?: string } }[] } | undefined)?.tool_calls;
  if (!Array.isArray(toolCalls)) return [];
  return toolCalls.map((call) => ({ callId: call.id ?? '', name: call.function?.name ?? '', kind: 'function' as const, input: call.function?.arguments ?? '' }));
}
