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
