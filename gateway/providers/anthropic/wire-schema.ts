import { z } from 'zod';
import { lenientRecord } from '../wire-json.ts';

/**
 * Anthropic Messages wire shapes (only what we send and read; lenient on responses).
 * @see https://docs.anthropic.com/en/api/messages
 */
export interface AnthropicRequest {
  model: string;
  max_tokens: number;
  system?: AnthropicTextBlock[];
  messages: AnthropicMessage[];
  tools?: AnthropicTool[];
  tool_choice?: { type: 'auto' | 'any' | 'none' | 'tool'; name?: string; disable_parallel_tool_use?: boolean };
  thinking?: { type: 'enabled'; budget_tokens: number };
  temperature?: number;
  top_p?: number;
  top_k?: number;
  stop_sequences?: string[];
  stream?: boolean;
  metadata?: { user_id?: string };
}

export interface CacheControl {
  type: 'ephemeral';
}

export interface AnthropicTextBlock {
  type: 'text';
  text: string;
  cache_control?: CacheControl;
}

export type AnthropicContentBlock =
  | AnthropicTextBlock
  | { type: 'image'; source: { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string } }
  | { type: 'thinking'; thinking: string; signature: string }
  | { type: 'redacted_thinking'; data: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string | AnthropicContentBlock[]; is_error?: boolean };

export interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: AnthropicContentBlock[];
}

export interface AnthropicTool {
  name: string;
  description?: string;
  input_schema: Record<string, unknown>;
  cache_control?: CacheControl;
}

export interface AnthropicUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_read_input_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
}

/** Stream event names. @see https://docs.anthropic.com/en/docs/build-with-claude/streaming */
export type AnthropicStreamEventType =
  | 'message_start'
  | 'content_block_start'
  | 'content_block_delta'
  | 'content_block_stop'
  | 'message_delta'
  | 'message_stop'
  | 'ping'
  | 'error';

// Stream events are read with lenient schemas (as vercel/ai does; see wire-json.ts readWireEvent):
// unknown fields pass, what Anthropic may omit is optional, a leaf like an id of the wrong type reads
// as absent. What an event is for (its block index, the delta and its text) must be readable, or
// the event is reported on the span and skipped. Event types not listed here are skipped (ping, new ones).
const optionalText = z.string().nullish().catch(undefined);
const blockIndex = z.number();
// Usage fields are merged as they come (message_start, then cumulative message_delta).
const usageRecord = lenientRecord.optional();
const KNOWN_DELTAS = new Set(['text_delta', 'thinking_delta', 'signature_delta', 'input_json_delta']);

const AnthropicDeltaSchema = z.union([
  z.discriminatedUnion('type', [
    z.looseObject({ type: z.literal('text_delta'), text: z.string() }),
    z.looseObject({ type: z.literal('thinking_delta'), thinking: z.string() }),
    z.looseObject({ type: z.literal('signature_delta'), signature: z.string() }),
    z.looseObject({ type: z.literal('input_json_delta'), partial_json: z.string() }),
  ]),
  // Delta types this gateway does not translate (citations_delta, …) pass unread.
  z.looseObject({ type: z.string().refine((type) => !KNOWN_DELTAS.has(type), 'a known delta type with a field of the wrong type') }).transform(() => ({ type: 'other' as const })),
]);

/** Schemas of the stream events the parser reads, by event type. */
export const AnthropicStreamEventSchemas = {
  message_start: z.looseObject({ message: z.looseObject({ id: optionalText, model: optionalText, usage: usageRecord }) }),
  content_block_start: z.looseObject({
    index: blockIndex,
    content_block: z.looseObject({ type: z.string(), text: optionalText, data: optionalText, id: optionalText, name: optionalText }),
  }),
  content_block_delta: z.looseObject({ index: blockIndex, delta: AnthropicDeltaSchema }),
  content_block_stop: z.looseObject({ index: blockIndex }),
  message_delta: z.looseObject({ delta: z.looseObject({ stop_reason: optionalText }).nullish().catch(undefined), usage: usageRecord }),
  // Terminal events are never skipped: a stream that ended must end, whatever else they carry.
  message_stop: z.looseObject({}),
  error: z.looseObject({ error: z.looseObject({ type: optionalText, message: optionalText }).catch({}) }),
} as const;

/** Default API version; versions on or after {@link ANTHROPIC_SAMPLING_CUTOFF_VERSION} reject temperature/top_p/top_k. */
export const ANTHROPIC_DEFAULT_VERSION = '2023-06-01';
export const ANTHROPIC_SAMPLING_CUTOFF_VERSION = '2026-10-21';
