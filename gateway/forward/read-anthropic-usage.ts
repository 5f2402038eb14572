import type { NormalizedUsage, OutputToolCall } from '../../shared/telemetry/turn-record.ts';

/** Anthropic Messages usage as it appears in `message_start.message.usage`, `message_delta.usage` and whole bodies. */
export interface AnthropicUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

const count = (value: number | null | undefined): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/**
 * Anthropic's `input_tokens` EXCLUDES cache reads and cache writes; Gatehouse counts input the OpenAI
 * way (cached included), or cache reads would be billed twice.
 */
export function usageFromAnthropic(usage: AnthropicUsage | undefined): NormalizedUsage | undefined {
  if (!usage) return undefined;
  const cacheRead = count(usage.cache_read_input_tokens);
  const cacheWrite = count(usage.cache_creation_input_tokens);
  return {
    inputTokens: count(usage.input_tokens) + cacheRead + cacheWrite,
    cachedInputTokens: cacheRead,
    cacheWriteTokens: cacheWrite,
    outputTokens: count(usage.output_tokens),
    reasoningTokens: 0,
  };
}

/**
 * `message_delta.usage` is cumulative and, on current API versions, repeats the input counts; older
 * ones carry only `output_tokens`. Fields it has replace those of `message_start`, the rest stay.
 */
export function mergeAnthropicUsage(start: AnthropicUsage | undefined, delta: AnthropicUsage): AnthropicUsage {
  const merged: AnthropicUsage = { ...start };
  for (const field of ['input_tokens', 'output_tokens', 'cache_creation_input_tokens', 'cache_read_input_tokens'] as const) {
    if (typeof delta[field] === 'number') merged[field] = delta[field];
  }
  return merged;
}

/** `tool_use` blocks of a whole (non-streaming) Messages answer. */
export function toolCallsFromAnthropicContent(content: unknown): OutputToolCall[] {
  if (!Array.isArray(content)) return [];
  const calls: OutputToolCall[] = [];
  for (const block of content as Record<string, unknown>[]) {
    if (block.type === 'tool_use') calls.push({ callId: String(block.id ?? ''), name: String(block.name ?? ''), kind: 'function', input: JSON.stringify(block.input ?? {}) });
  }
  return calls;
}
