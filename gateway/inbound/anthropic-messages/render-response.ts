import { encodeOpaque } from '../../canonical/opaque-envelope.ts';
import type { FinishReason } from '../../canonical/finish-reason.ts';
import type { OpaqueData } from '../../canonical/item.ts';
import type { CanonicalResponse } from '../../canonical/response.ts';
import type { CanonicalUsage } from '../../canonical/usage.ts';
import { parseArguments } from '../../providers/wire-json.ts';
import type { RenderContext } from '../render-context.ts';

type Json = Record<string, unknown>;

export function anthropicMessageId(context: RenderContext): string {
  return `msg_${context.requestId.replace(/[^A-Za-z0-9]/g, '')}`;
}

export function anthropicStopReason(reason: FinishReason | undefined, hasToolCalls: boolean): string {
  if (reason?.unified === 'length') return 'max_tokens';
  if (reason?.unified === 'content-filter') return 'refusal';
  if (reason?.unified === 'tool-calls' || hasToolCalls) return 'tool_use';
  return 'end_turn';
}

/**
 * Canonical (inclusive) usage → the token counts of Anthropic's usage, whose `input_tokens`
 * excludes cache reads and writes. Shared by `usage` (messages) and `message_delta.usage`.
 */
function anthropicTokenCounts(usage: CanonicalUsage | undefined): Json {
  if (usage === undefined) return { input_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 0, output_tokens_details: null, server_tool_use: null };
  return {
    input_tokens: Math.max(0, usage.inputTokens - usage.cachedInputTokens - usage.cacheWriteTokens),
    cache_creation_input_tokens: usage.cacheWriteTokens,
    cache_read_input_tokens: usage.cachedInputTokens,
    output_tokens: usage.outputTokens,
    output_tokens_details: usage.reasoningTokens > 0 ? { thinking_tokens: usage.reasoningTokens } : null,
    server_tool_use: null,
  };
}

/** A message's `usage`, every field the Messages API has (unknown ones null). */
export function anthropicUsage(usage: CanonicalUsage | undefined): Json {
  return { ...anthropicTokenCounts(usage), cache_creation: null, inference_geo: null, service_tier: null, speed: null };
}

/** `message_delta.usage` (cumulative). */
export function anthropicDeltaUsage(usage: CanonicalUsage | undefined): Json {
  return anthropicTokenCounts(usage);
}

/** The message object around content, as `message_start` and non-streaming bodies carry it. */
export function anthropicMessage(context: RenderContext, content: Json[], stopReason: string | null, usage: CanonicalUsage | undefined): Json {
  return { id: anthropicMessageId(context), type: 'message', role: 'assistant', model: context.model, content, stop_reason: stopReason, stop_sequence: null, stop_details: null, container: null, diagnostics: null, usage: anthropicUsage(usage) };
}

/** Thinking signature for an Anthropic client: Anthropic's own as-is, anything else in our envelope. */
export function thinkingSignature(opaque: OpaqueData | undefined, text: string): string {
  if (opaque === undefined) return '';
  if (opaque.family === 'anthropic' && opaque.kind === 'signature') return opaque.value;
  return encodeOpaque(opaque.family === 'openai' ? { ...opaque, kind: 'encrypted_content_wrapped' } : opaque, text);
}

/** A whole canonical response → Messages body. */
export function renderAnthropicMessagesBody(response: CanonicalResponse, context: RenderContext): Json {
  const content = response.output.map((item): Json => {
    if (item.type === 'text') return { type: 'text', text: item.text, citations: null };
    if (item.type === 'reasoning') return { type: 'thinking', thinking: item.text, signature: thinkingSignature(item.opaque, item.text) };
    return { type: 'tool_use', id: item.callId, name: item.name, input: parseArguments(item.input).value, caller: { type: 'direct' } };
  });
  const hasToolCalls = response.output.some((item) => item.type === 'tool-call');
  return anthropicMessage(context, content, anthropicStopReason(response.finish, hasToolCalls), response.usage);
}
