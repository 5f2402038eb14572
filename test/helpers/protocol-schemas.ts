import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ValidateFunction } from 'ajv';
import { anthropicSchemaErrors } from './anthropic-messages-schema.ts';

/**
 * Validators for what each client protocol receives, from the published specifications vendored
 * as-is under test/fixtures/schemas (sources, commits and licences in the README there):
 * - OpenAI Responses: the Open Responses specification (openresponses/openresponses), whose
 *   response object and stream events are stricter than OpenAI's own spec (every field required).
 *   Item, tool and event types Open Responses does not define (custom tool calls, their input
 *   events, hosted and namespace tools) are OpenAI extensions: those are checked against OpenAI's
 *   published spec instead, and reported as such.
 * - OpenAI Chat Completions: OpenAI's published OpenAPI spec (openai/openai-openapi).
 * - Anthropic Messages: Anthropic publishes no machine-readable schema; a strict zod schema checked
 *   at compile time against the official SDK's types (see anthropic-messages-schema.ts).
 */

type Json = Record<string, unknown>;
const load = (path: string): Json => JSON.parse(readFileSync(new URL(`../fixtures/schemas/${path}`, import.meta.url), 'utf8')) as Json;

// strict: false — the OpenAPI documents carry keywords JSON Schema does not know (x-*, example, discriminator).
const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false });
const openResponsesSpec = load('open-responses/openapi.json');
// OpenAI's 3.1 document still carries OpenAPI 3.0 `nullable: true` flags (e.g. on Chat's
// `finish_reason` enum), which JSON Schema 2020-12 does not know; the loaded copy states them the
// 3.1 way (null added to `type` and `enum`). The vendored file stays as published.
const openaiSpec = nullableAs31(load('openai/openapi.json')) as Json;

function nullableAs31(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(nullableAs31);
  if (typeof node !== 'object' || node === null) return node;
  const source = node as Json;
  const out: Json = {};
  for (const [key, value] of Object.entries(source)) if (key !== 'nullable') out[key] = nullableAs31(value);
  if (source['nullable'] === true && source['type'] !== undefined) {
    out['type'] = [...new Set([...(Array.isArray(source['type']) ? source['type'] : [source['type']]), 'null'])];
    if (Array.isArray(source['enum'])) out['enum'] = [...source['enum'], null];
  }
  return out;
}
ajv.addSchema(openResponsesSpec, 'open-responses');
ajv.addSchema(openaiSpec, 'openai');

/** OpenAI's event schema per event type, read from its ResponseStreamEvent union (not a hand copy). */
const OPENAI_EVENT_SCHEMAS: Record<string, string> = (() => {
  const schemas = (openaiSpec['components'] as { schemas: Record<string, Json> }).schemas;
  const out: Record<string, string> = {};
  for (const branch of (schemas['ResponseStreamEvent']?.['anyOf'] as { $ref: string }[] | undefined) ?? []) {
    const name = branch.$ref.split('/').at(-1)!;
    const type = ((schemas[name]?.['properties'] as Json | undefined)?.['type'] as { enum?: string[] } | undefined)?.enum?.[0];
    if (type !== undefined) out[type] = name;
  }
  return out;
})();

const compiled = new Map<string, ValidateFunction>();
function validator(document: 'open-responses' | 'openai', name: string): ValidateFunction {
  const key = `${document}#/components/schemas/${name}`;
  let validate = compiled.get(key);
  if (validate === undefined) {
    validate = ajv.getSchema(key);
    if (validate === undefined) throw new Error(`no schema ${key}`);
    compiled.set(key, validate);
  }
  return validate;
}

function errorsOf(validate: ValidateFunction, value: unknown): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).slice(0, 8).map((error) => `${error.instancePath || '/'} ${error.message ?? ''}${error.params && 'additionalProperty' in error.params ? ` (${String(error.params.additionalProperty)})` : ''}`);
}

/** Open Responses stream event schema per event type. */
const OPEN_RESPONSES_EVENTS: Record<string, string> = {
  'response.created': 'ResponseCreatedStreamingEvent',
  'response.queued': 'ResponseQueuedStreamingEvent',
  'response.in_progress': 'ResponseInProgressStreamingEvent',
  'response.completed': 'ResponseCompletedStreamingEvent',
  'response.failed': 'ResponseFailedStreamingEvent',
  'response.incomplete': 'ResponseIncompleteStreamingEvent',
  'response.output_item.added': 'ResponseOutputItemAddedStreamingEvent',
  'response.output_item.done': 'ResponseOutputItemDoneStreamingEvent',
  'response.reasoning_summary_part.added': 'ResponseReasoningSummaryPartAddedStreamingEvent',
  'response.reasoning_summary_part.done': 'ResponseReasoningSummaryPartDoneStreamingEvent',
  'response.content_part.added': 'ResponseContentPartAddedStreamingEvent',
  'response.content_part.done': 'ResponseContentPartDoneStreamingEvent',
  'response.output_text.delta': 'ResponseOutputTextDeltaStreamingEvent',
  'response.output_text.done': 'ResponseOutputTextDoneStreamingEvent',
  'response.reasoning_summary_text.delta': 'ResponseReasoningSummaryDeltaStreamingEvent',
  'response.reasoning_summary_text.done': 'ResponseReasoningSummaryDoneStreamingEvent',
  'response.function_call_arguments.delta': 'ResponseFunctionCallArgumentsDeltaStreamingEvent',
  'response.function_call_arguments.done': 'ResponseFunctionCallArgumentsDoneStreamingEvent',
  error: 'ErrorStreamingEvent',
};

const OPEN_RESPONSES_ITEMS = new Set(['message', 'function_call', 'function_call_output', 'reasoning', 'compaction']);

/** Whether a Responses payload uses types only OpenAI's spec defines (custom tools, hosted/namespace tools). */
function usesOpenAIExtensions(payload: Json): boolean {
  const response = (payload['response'] ?? payload) as Json;
  const items = [payload['item'], ...((response['output'] as Json[] | undefined) ?? [])].filter((item): item is Json => typeof item === 'object' && item !== null);
  const tools = (response['tools'] as Json[] | undefined) ?? [];
  // Open Responses' generated JsonSchemaResponseFormat types `schema` as null (a generator artefact:
  // the API echoes the schema object), so a JSON-schema text format is judged by OpenAI's spec.
  const format = ((response['text'] as Json | undefined)?.['format'] as Json | undefined)?.['type'];
  return items.some((item) => !OPEN_RESPONSES_ITEMS.has(String(item['type']))) || tools.some((tool) => tool['type'] !== 'function') || format === 'json_schema';
}

export interface SchemaVerdict {
  /** Which specification judged it. */
  spec: 'open-responses' | 'openai' | 'anthropic-sdk';
  errors: string[];
}

/** A Responses stream event (parsed `data:`) against Open Responses, or OpenAI's spec for extensions. */
export function checkResponsesEvent(event: Json): SchemaVerdict {
  const type = String(event['type']);
  const openResponses = OPEN_RESPONSES_EVENTS[type];
  if (openResponses !== undefined && !usesOpenAIExtensions(event)) return { spec: 'open-responses', errors: errorsOf(validator('open-responses', openResponses), event) };
  const openai = OPENAI_EVENT_SCHEMAS[type];
  if (openai === undefined) return { spec: 'openai', errors: [`event type ${type} is in neither specification`] };
  return { spec: 'openai', errors: errorsOf(validator('openai', openai), withoutPendingUsage(event)) };
}

/**
 * Open Responses requires `usage` on every snapshot (null until the response completes, as the API
 * sends it); OpenAI's spec declares it optional but not nullable. The one place the two published
 * specs contradict each other: a null usage is checked by Open Responses' rule, not OpenAI's.
 */
function withoutPendingUsage(event: Json): Json {
  const response = event['response'] as Json | undefined;
  if (response === undefined || response['usage'] !== null) return event;
  const { usage: _pending, ...rest } = response;
  return { ...event, response: rest };
}

/** A non-streaming Responses body. */
export function checkResponsesBody(body: Json): SchemaVerdict {
  if (!usesOpenAIExtensions(body)) return { spec: 'open-responses', errors: errorsOf(validator('open-responses', 'ResponseResource'), body) };
  return { spec: 'openai', errors: errorsOf(validator('openai', 'Response'), body) };
}

/** A `chat.completion` body. */
export function checkChatBody(body: Json): SchemaVerdict {
  return { spec: 'openai', errors: errorsOf(validator('openai', 'CreateChatCompletionResponse'), body) };
}

/**
 * A `chat.completion.chunk` (an in-band `{"error":…}` frame is checked as OpenAI's error body).
 * OpenAI's chunk schema knows only function tool-call deltas; a custom tool call's delta is checked
 * against the spec's custom tool call (`ChatCompletionMessageCustomToolCall`) once the stream has
 * assembled it (see checkChatCustomCall), and left out of the chunk it came in.
 */
export function checkChatChunk(chunk: Json): SchemaVerdict {
  if (chunk['error'] !== undefined) return { spec: 'openai', errors: errorsOf(validator('openai', 'ErrorResponse'), chunk) };
  const choices = ((chunk['choices'] as Json[] | undefined) ?? []).map((choice) => {
    const delta = choice['delta'] as Json | undefined;
    const calls = delta?.['tool_calls'] as Json[] | undefined;
    if (calls === undefined) return choice;
    const functions = calls.filter((call) => call['type'] !== 'custom' && call['custom'] === undefined);
    const { tool_calls: _calls, ...rest } = delta!;
    return { ...choice, delta: functions.length > 0 ? { ...rest, tool_calls: functions } : rest };
  });
  return { spec: 'openai', errors: errorsOf(validator('openai', 'CreateChatCompletionStreamResponse'), { ...chunk, choices }) };
}

/** A custom tool call a Chat stream assembled, against OpenAI's `ChatCompletionMessageCustomToolCall`. */
export function checkChatCustomCall(call: Json): SchemaVerdict {
  return { spec: 'openai', errors: errorsOf(validator('openai', 'ChatCompletionMessageCustomToolCall'), call) };
}

/** An Anthropic Messages body or stream event (`ping` and `error` included). */
export function checkAnthropic(kind: 'body' | 'event', value: Json): SchemaVerdict {
  return { spec: 'anthropic-sdk', errors: anthropicSchemaErrors(kind, value) };
}
