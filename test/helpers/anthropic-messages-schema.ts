import type { ErrorResponse } from '@anthropic-ai/sdk/resources/shared';
import type {
  Message,
  MessageDeltaUsage,
  RawContentBlockDeltaEvent,
  RawContentBlockStartEvent,
  RawContentBlockStopEvent,
  RawMessageDeltaEvent,
  RawMessageStartEvent,
  RawMessageStopEvent,
  Usage,
} from '@anthropic-ai/sdk/resources/messages/messages';
import { z } from 'zod';

/**
 * Anthropic publishes no machine-readable schema of Messages objects (its SDKs are generated from a
 * spec that is not public), so the most official source is the official TypeScript SDK's types
 * (@anthropic-ai/sdk, installed). This is a strict zod schema of the objects and events a gateway
 * sends, derived from those types and tied to them at compile time: `Exact` below fails `npm run
 * typecheck` unless each schema's type and the SDK's type are assignable both ways (no required SDK
 * field missing or optional here, no field typed differently), and the objects are strict (no field
 * the SDK does not declare). Content blocks are the kinds a translated answer can hold: text,
 * thinking, redacted thinking and tool use (server tool blocks never come out of a translation).
 */

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable();
const outputTokensDetails = z.strictObject({ thinking_tokens: z.number() });
const serverToolUse = z.strictObject({ web_search_requests: z.number(), web_fetch_requests: z.number() }).partial();

const usage = z.strictObject({
  cache_creation: nullable(z.strictObject({ ephemeral_1h_input_tokens: z.number(), ephemeral_5m_input_tokens: z.number() })),
  cache_creation_input_tokens: nullable(z.number()),
  cache_read_input_tokens: nullable(z.number()),
  inference_geo: nullable(z.string()),
  input_tokens: z.number(),
  output_tokens: z.number(),
  output_tokens_details: nullable(outputTokensDetails),
  server_tool_use: z.null(),
  service_tier: nullable(z.enum(['standard', 'priority', 'batch'])),
  speed: nullable(z.enum(['standard', 'fast'])),
});

const textBlock = z.strictObject({ citations: z.null(), text: z.string(), type: z.literal('text') });
const thinkingBlock = z.strictObject({ signature: z.string(), thinking: z.string(), type: z.literal('thinking') });
const redactedThinkingBlock = z.strictObject({ data: z.string(), type: z.literal('redacted_thinking') });
const toolUseBlock = z.strictObject({ id: z.string(), caller: z.strictObject({ type: z.literal('direct') }), input: z.unknown(), name: z.string(), type: z.literal('tool_use') });
const contentBlock = z.discriminatedUnion('type', [textBlock, thinkingBlock, redactedThinkingBlock, toolUseBlock]);
const stopReason = z.enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal', 'model_context_window_exceeded']);
const refusalStopDetails = z.strictObject({ category: nullable(z.enum(['cyber', 'bio', 'frontier_llm', 'reasoning_extraction', 'general_harms'])), explanation: nullable(z.string()), type: z.literal('refusal') });

const message = z.strictObject({
  id: z.string(),
  container: z.null(),
  content: z.array(contentBlock),
  diagnostics: z.null(),
  model: z.string(),
  role: z.literal('assistant'),
  stop_details: nullable(refusalStopDetails),
  stop_reason: nullable(stopReason),
  stop_sequence: nullable(z.string()),
  type: z.literal('message'),
  usage,
});

const messageDeltaUsage = z.strictObject({
  cache_creation_input_tokens: nullable(z.number()),
  cache_read_input_tokens: nullable(z.number()),
  input_tokens: nullable(z.number()),
  output_tokens: z.number(),
  output_tokens_details: nullable(outputTokensDetails),
  server_tool_use: z.null(),
});

const messageStart = z.strictObject({ message, type: z.literal('message_start') });
const messageDelta = z.strictObject({
  delta: z.strictObject({ container: z.null(), stop_details: nullable(refusalStopDetails), stop_reason: nullable(stopReason), stop_sequence: nullable(z.string()) }),
  type: z.literal('message_delta'),
  usage: messageDeltaUsage,
});
const messageStop = z.strictObject({ type: z.literal('message_stop') });
const blockStart = z.strictObject({ content_block: contentBlock, index: z.number(), type: z.literal('content_block_start') });
const blockDelta = z.strictObject({
  delta: z.discriminatedUnion('type', [
    z.strictObject({ text: z.string(), type: z.literal('text_delta') }),
    z.strictObject({ partial_json: z.string(), type: z.literal('input_json_delta') }),
    z.strictObject({ thinking: z.string(), type: z.literal('thinking_delta') }),
    z.strictObject({ signature: z.string(), type: z.literal('signature_delta') }),
  ]),
  index: z.number(),
  type: z.literal('content_block_delta'),
});
const blockStop = z.strictObject({ index: z.number(), type: z.literal('content_block_stop') });
const errorTypes = z.enum(['invalid_request_error', 'authentication_error', 'billing_error', 'permission_error', 'not_found_error', 'rate_limit_error', 'timeout_error', 'api_error', 'overloaded_error', 'conflict_error']);
// The SDK's ErrorObject types carry `message` and `type`; a gateway may add fields (its own code) beside them.
const errorEvent = z.object({ error: z.object({ message: z.string(), type: errorTypes }), request_id: nullable(z.string()), type: z.literal('error') });
const ping = z.strictObject({ type: z.literal('ping') });

const streamEvent = z.discriminatedUnion('type', [messageStart, messageDelta, messageStop, blockStart, blockDelta, blockStop, errorEvent, ping]);

/** Compile-time: A and B are assignable both ways. */
type Exact<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Narrow<T, K extends string> = Extract<T, { type: K }>;
type SdkBlock = Narrow<Message['content'][number], 'text' | 'thinking' | 'redacted_thinking' | 'tool_use'>;
type OurMessage = z.infer<typeof message>;
type Checks = [
  Exact<z.infer<typeof contentBlock>['type'], SdkBlock['type']>,
  // Every field the SDK declares is here, required as there (nullable fields may carry null).
  Exact<keyof OurMessage, keyof Message>,
  Exact<keyof z.infer<typeof usage>, keyof Usage>,
  Exact<keyof z.infer<typeof messageDeltaUsage>, keyof MessageDeltaUsage>,
  Exact<keyof z.infer<typeof messageDelta>['delta'], keyof RawMessageDeltaEvent['delta']>,
  Exact<keyof z.infer<typeof textBlock>, keyof Narrow<SdkBlock, 'text'>>,
  Exact<keyof z.infer<typeof toolUseBlock>, Exclude<keyof Narrow<SdkBlock, 'tool_use'>, 'toolset_name'>>,
  // And each of our objects is a valid SDK object.
  OurMessage extends Message ? true : false,
  z.infer<typeof messageStart> extends RawMessageStartEvent ? true : false,
  z.infer<typeof messageDelta> extends RawMessageDeltaEvent ? true : false,
  z.infer<typeof messageStop> extends RawMessageStopEvent ? true : false,
  z.infer<typeof blockStart> extends RawContentBlockStartEvent ? true : false,
  z.infer<typeof blockDelta> extends RawContentBlockDeltaEvent ? true : false,
  z.infer<typeof blockStop> extends RawContentBlockStopEvent ? true : false,
  // ErrorResponse's error is a union of one object per type; ours is one object over the same types.
  keyof z.infer<typeof errorEvent> extends keyof ErrorResponse ? true : false,
];
const checks: Checks = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
void checks;

/** Problems of a Messages body (`kind: 'body'`) or stream event, [] when valid. */
export function anthropicSchemaErrors(kind: 'body' | 'event', value: unknown): string[] {
  const result = (kind === 'body' ? message : streamEvent).safeParse(value);
  return result.success ? [] : result.error.issues.slice(0, 8).map((issue) => `/${issue.path.join('/')} ${issue.message}`);
}
