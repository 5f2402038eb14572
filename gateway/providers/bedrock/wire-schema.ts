import { z } from 'zod';
import { lenientRecord } from '../wire-json.ts';

/**
 * Bedrock Converse / ConverseStream wire shapes.
 * @see https://docs.aws.amazon.com/bedrock/latest/APIReference/API_runtime_ConverseStream.html
 */
export interface ConverseRequest {
  messages: ConverseMessage[];
  system?: ConverseSystemBlock[];
  inferenceConfig?: { maxTokens?: number; temperature?: number; topP?: number; stopSequences?: string[] };
  toolConfig?: { tools: ConverseTool[]; toolChoice?: { auto: Record<string, never> } | { any: Record<string, never> } | { tool: { name: string } } };
  additionalModelRequestFields?: Record<string, unknown>;
}

export type ConverseSystemBlock = { text: string } | { cachePoint: { type: 'default' } };

export interface ConverseMessage {
  role: 'user' | 'assistant';
  content: ConverseContentBlock[];
}

export type ConverseContentBlock =
  | { text: string }
  | { image: { format: string; source: { bytes: string } } }
  | { toolUse: { toolUseId: string; name: string; input: Record<string, unknown> } }
  | { toolResult: { toolUseId: string; content: ({ text: string } | { image: { format: string; source: { bytes: string } } })[]; status?: 'success' | 'error' } }
  | { reasoningContent: { reasoningText: { text: string; signature?: string } } | { redactedContent: string } }
  | { cachePoint: { type: 'default' } };

export type ConverseTool = { toolSpec: { name: string; description?: string; inputSchema: { json: Record<string, unknown> } } } | { cachePoint: { type: 'default' } };

export interface ConverseUsage {
  inputTokens?: number;
  outputTokens?: number;
  totalTokens?: number;
  cacheReadInputTokens?: number;
  cacheWriteInputTokens?: number;
}

/** Service name for SigV4. */
export const BEDROCK_SIGNING_SERVICE = 'bedrock';

/**
 * The forced tool that carries JSON-schema output on Converse (which has no response format): its
 * input is the answer, turned back into text by the stream parser. Reserved: no client tool has it.
 */
export const BEDROCK_JSON_OUTPUT_TOOL = 'gatehouse_json_output';

// ConverseStream events are read with lenient schemas (as vercel/ai does; see wire-json.ts
// readWireEvent): unknown fields pass, what Bedrock may omit is optional, an id or reason of the
// wrong type reads as absent. What an event is for (its block index, the delta's text, reasoning or
// tool input) must be readable, or the event is reported on the span and skipped. `messageStop`
// and `metadata` end the stream and are never skipped.
const optionalText = z.string().nullish().catch(undefined);
const blockIndex = z.number().optional();

/** Schemas of the ConverseStream events the parser reads, by event type (the `:event-type` header). */
export const ConverseStreamEventSchemas = {
  contentBlockStart: z.looseObject({
    contentBlockIndex: blockIndex,
    start: z.looseObject({ toolUse: z.looseObject({ toolUseId: z.string(), name: z.string() }).optional() }).optional(),
  }),
  contentBlockDelta: z.looseObject({
    contentBlockIndex: blockIndex,
    delta: z.looseObject({
      text: z.string().optional(),
      reasoningContent: z.looseObject({ text: z.string().optional(), signature: z.string().optional(), redactedContent: z.string().optional() }).optional(),
      toolUse: z.looseObject({ input: z.string().optional() }).optional(),
    }),
  }),
  contentBlockStop: z.looseObject({ contentBlockIndex: blockIndex }),
  messageStop: z.looseObject({ stopReason: optionalText }).catch({}),
  metadata: z.looseObject({ usage: lenientRecord }).catch({ usage: {} }),
} as const;
