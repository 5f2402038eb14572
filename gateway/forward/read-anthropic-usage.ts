import type { NormalizedUsage, OutputToolCall } from '../../shared/telemetry/turn-record.ts';
import { mapAnthropicUsage } from '../providers/anthropic/map-usage.ts';
import type { AnthropicUsage } from '../providers/anthropic/wire-schema.ts';

export type { AnthropicUsage };

/** A pass-through answer's usage in Gatehouse's (OpenAI's) convention: the Anthropic adapter's own mapping. */
export function usageFromAnthropic(usage: AnthropicUsage | undefined): NormalizedUsage | undefined {
  return usage ? mapAnthropicUsage(usage) : undefined;
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
