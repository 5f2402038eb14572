import { z } from 'zod';

/**
 * Chat Completions wire shapes (OpenAI and compatible servers).
 * @see https://platform.openai.com/docs/api-reference/chat
 */
export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ChatTool[];
  tool_choice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  parallel_tool_calls?: boolean;
  max_tokens?: number;
  max_completion_tokens?: number;
  temperature?: number;
  top_p?: number;
  stop?: string[];
  reasoning_effort?: string;
  response_format?: Record<string, unknown>;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
  prompt_cache_key?: string;
  [key: string]: unknown;
}

export type ChatMessage =
  | { role: 'system' | 'developer'; content: string }
  | { role: 'user'; content: string | ChatContentPart[] }
  | { role: 'assistant'; content: string | null; tool_calls?: ChatToolCall[] }
  | { role: 'tool'; tool_call_id: string; content: string };

export type ChatContentPart = { type: 'text'; text: string } | { type: 'image_url'; image_url: { url: string; detail?: string } };

export interface ChatToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatTool {
  type: 'function';
  function: { name: string; description?: string; parameters: Record<string, unknown>; strict?: boolean };
}

// Streamed chunks are read with lenient schemas (as vercel/ai does): a field of the wrong type reads
// as absent instead of failing the chunk, unknown fields pass through. About 0.2 µs per chunk.
const text = z.string().nullish().catch(undefined);
const count = z.number().optional().catch(undefined);

export const ChatUsageSchema = z.looseObject({
  prompt_tokens: count,
  completion_tokens: count,
  prompt_tokens_details: z.looseObject({ cached_tokens: count }).nullish().catch(undefined),
  completion_tokens_details: z.looseObject({ reasoning_tokens: count }).nullish().catch(undefined),
  /** DeepSeek reports cache hits here instead. */
  prompt_cache_hit_tokens: count,
});
export type ChatUsage = z.input<typeof ChatUsageSchema>;

const ChatToolCallDeltaSchema = z.looseObject({ index: count, id: text, function: z.looseObject({ name: text, arguments: text }).nullish().catch(undefined) }).catch({});

const ChatChoiceSchema = z
  .looseObject({
    delta: z.looseObject({ content: text, reasoning_content: text, reasoning: text, tool_calls: z.array(ChatToolCallDeltaSchema).nullish().catch(undefined) }).nullish().catch(undefined),
    finish_reason: text,
  })
  .catch({});

/** One `chat.completion.chunk` (or an in-stream `{"error":…}`, read by the caller as it was). */
export const ChatChunkSchema = z.looseObject({
  id: text,
  model: text,
  error: z.unknown().optional(),
  // A usage that is not an object reads as an empty one (zero counts), as before the schema.
  usage: ChatUsageSchema.nullish().catch({}),
  choices: z.array(ChatChoiceSchema).catch([]),
});
