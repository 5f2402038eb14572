import { z } from 'zod';
import { lenientRecord } from '../wire-json.ts';

/**
 * OpenAI Responses API wire shapes we build and read (lenient: unknown fields are ignored).
 * @see https://platform.openai.com/docs/api-reference/responses
 */
export interface ResponsesRequest {
  model: string;
  input: ResponsesInputItem[];
  instructions?: string;
  tools?: Record<string, unknown>[];
  tool_choice?: unknown;
  parallel_tool_calls?: boolean;
  reasoning?: { effort?: string; summary?: string };
  max_output_tokens?: number;
  temperature?: number;
  top_p?: number;
  text?: Record<string, unknown>;
  include?: string[];
  store?: boolean;
  prompt_cache_key?: string;
  stream?: boolean;
  [key: string]: unknown;
}

export type ResponsesInputItem = Record<string, unknown> & { type: string };

/** Usage object of `response.completed`. */
export interface ResponsesUsage {
  input_tokens?: number;
  input_tokens_details?: { cached_tokens?: number; cache_write_tokens?: number } | null;
  output_tokens?: number;
  output_tokens_details?: { reasoning_tokens?: number } | null;
  total_tokens?: number;
}

/** Stream event types the parser reads; others (obfuscation padding, annotations…) are skipped. */
export const RESPONSES_TERMINAL_EVENTS = ['response.completed', 'response.incomplete', 'response.failed', 'error'] as const;

// Stream events are read with lenient schemas (as vercel/ai does; see wire-json.ts readWireEvent):
// unknown fields pass, what OpenAI may omit is optional, a leaf like a name of the wrong type reads
// as absent. What an event is for (the item it belongs to, its delta text, the item it adds) must be
// readable, or the event is reported on the span and skipped. Terminal events are never skipped.
const optionalText = z.string().nullish().catch(undefined);
const partIndex = z.number().optional();
const anyRecord = lenientRecord;

const ResponsesItemSchema = z.looseObject({
  type: z.string(),
  id: optionalText,
  call_id: optionalText,
  name: optionalText,
  namespace: optionalText,
  encrypted_content: optionalText,
  arguments: optionalText,
  input: optionalText,
});
const TextDeltaSchema = z.looseObject({ item_id: z.string(), content_index: partIndex, summary_index: partIndex, delta: z.string() });
const TerminalResponseSchema = z
  .looseObject({ status: optionalText, usage: anyRecord, incomplete_details: z.looseObject({ reason: optionalText }).nullish().catch(undefined), error: anyRecord })
  .catch({ usage: {}, error: {} });

/** Schemas of the stream events the parser reads, by event type; others (obfuscation padding, annotations…) are skipped. */
export const ResponsesStreamEventSchemas = {
  'response.created': z.looseObject({ response: z.looseObject({ id: optionalText, model: optionalText }) }),
  'response.output_item.added': z.looseObject({ output_index: z.number().optional().catch(undefined), item: ResponsesItemSchema }),
  'response.output_item.done': z.looseObject({ item: ResponsesItemSchema }),
  'response.output_text.delta': TextDeltaSchema,
  'response.reasoning_summary_text.delta': TextDeltaSchema,
  'response.reasoning_text.delta': TextDeltaSchema,
  'response.function_call_arguments.delta': TextDeltaSchema,
  'response.custom_tool_call_input.delta': TextDeltaSchema,
  'response.completed': z.looseObject({ response: TerminalResponseSchema }),
  'response.incomplete': z.looseObject({ response: TerminalResponseSchema }),
  'response.failed': z.looseObject({ response: TerminalResponseSchema }),
  error: z.looseObject({ code: optionalText, type: optionalText, message: optionalText }),
} as const;
