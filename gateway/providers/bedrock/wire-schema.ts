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
