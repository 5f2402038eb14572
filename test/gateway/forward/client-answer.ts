import type { InboundProtocol } from '../../../gateway/forward/forward-types.ts';
import { decodeSse } from '../../../gateway/transport/decode-sse.ts';
import { checkAnthropic, checkChatBody, checkChatChunk, checkChatCustomCall, checkResponsesBody, checkResponsesEvent, type SchemaVerdict } from '../../helpers/protocol-schemas.ts';

type Json = Record<string, any>;

/** What a client understood from an answer, whatever its protocol, plus every schema finding. */
export interface ClientAnswer {
  text: string;
  reasoning: string;
  calls: { name: string; namespace?: string | undefined; kind: 'function' | 'custom'; input: string; id?: string }[];
  usage: { input: number; cached: number; output: number } | undefined;
  error: string | undefined;
  /** `where: problem` for every object or event that broke its specification. */
  schemaErrors: string[];
  /** Specifications that judged the objects (open-responses, openai, anthropic-sdk). */
  specs: Set<SchemaVerdict['spec']>;
  objects: number;
}

function empty(): ClientAnswer {
  return { text: '', reasoning: '', calls: [], usage: undefined, error: undefined, schemaErrors: [], specs: new Set(), objects: 0 };
}

function judge(answer: ClientAnswer, where: string, verdict: SchemaVerdict): void {
  answer.objects++;
  answer.specs.add(verdict.spec);
  for (const error of verdict.errors) answer.schemaErrors.push(`${where}: ${error}`);
}

async function frames(text: string): Promise<{ event: string | undefined; data: string }[]> {
  const out: { event: string | undefined; data: string }[] = [];
  for await (const frame of decodeSse([text])) out.push({ event: frame.type, data: frame.data });
  return out;
}

/** Reads a client's answer (SSE text or JSON body) and checks each object against its protocol's schema. */
export async function readAnswer(client: InboundProtocol, stream: boolean, body: string): Promise<ClientAnswer> {
  const answer = empty();
  if (!stream) {
    const parsed = JSON.parse(body) as Json;
    if (client === 'openai-responses') judge(answer, 'body', checkResponsesBody(parsed)), readResponsesObject(answer, parsed);
    else if (client === 'openai-chat') judge(answer, 'body', checkChatBody(parsed)), readChatBody(answer, parsed);
    else judge(answer, 'body', checkAnthropic('body', parsed)), readAnthropicBody(answer, parsed);
    return answer;
  }
  const blocks = new Map<number, Json>();
  for (const frame of await frames(body)) {
    if (frame.data === '[DONE]') continue;
    const data = JSON.parse(frame.data) as Json;
    if (client === 'openai-responses') {
      if (frame.event !== data['type']) answer.schemaErrors.push(`event line ${frame.event} != data.type ${data['type']}`);
      judge(answer, String(data['type']), checkResponsesEvent(data));
      if (data['type'] === 'response.completed' || data['type'] === 'response.incomplete') readResponsesObject(answer, data['response']);
      if (data['type'] === 'response.failed') answer.error = String(data['response']?.error?.message);
    } else if (client === 'openai-chat') {
      judge(answer, 'chunk', checkChatChunk(data));
      readChatChunk(answer, data);
    } else {
      if (frame.event !== data['type']) answer.schemaErrors.push(`event line ${frame.event} != data.type ${data['type']}`);
      judge(answer, String(data['type']), checkAnthropic('event', data));
      readAnthropicEvent(answer, data, blocks);
    }
  }
  // OpenAI's chunk schema has no custom tool-call delta: the assembled call is checked instead.
  if (client === 'openai-chat') for (const call of answer.calls.filter((item) => item.kind === 'custom')) judge(answer, 'custom tool call', checkChatCustomCall({ id: call.id, type: 'custom', custom: { name: call.name, input: call.input } }));
  return answer;
}

function readResponsesObject(answer: ClientAnswer, response: Json): void {
  for (const item of response['output'] ?? []) {
    if (item.type === 'message') answer.text += item.content.map((part: Json) => part['text'] ?? '').join('');
    if (item.type === 'reasoning') answer.reasoning += (item.summary ?? []).map((part: Json) => part['text']).join('');
    if (item.type === 'function_call') answer.calls.push({ name: item.name, namespace: item.namespace, kind: 'function', input: item.arguments });
    if (item.type === 'custom_tool_call') answer.calls.push({ name: item.name, kind: 'custom', input: item.input });
  }
  const usage = response['usage'];
  if (usage) answer.usage = { input: usage.input_tokens, cached: usage.input_tokens_details?.cached_tokens ?? 0, output: usage.output_tokens };
  if (response['status'] === 'failed') answer.error = response['error']?.message;
}

function readChatBody(answer: ClientAnswer, body: Json): void {
  const message = body['choices']?.[0]?.message ?? {};
  answer.text = message.content ?? '';
  answer.reasoning = message.reasoning_content ?? '';
  for (const call of message.tool_calls ?? []) answer.calls.push(call.type === 'custom' ? { name: call.custom.name, kind: 'custom', input: call.custom.input } : { name: call.function.name, kind: 'function', input: call.function.arguments });
  readChatUsage(answer, body['usage']);
}

function readChatChunk(answer: ClientAnswer, chunk: Json): void {
  if (chunk['error']) answer.error = chunk['error'].message;
  readChatUsage(answer, chunk['usage']);
  const delta = chunk['choices']?.[0]?.delta ?? {};
  answer.text += delta.content ?? '';
  answer.reasoning += delta.reasoning_content ?? '';
  for (const call of delta.tool_calls ?? []) {
    const known = answer.calls[call.index];
    const piece = call.type === 'custom' || call.custom ? (call.custom?.input ?? '') : (call.function?.arguments ?? '');
    if (known === undefined) answer.calls[call.index] = { name: call.custom?.name ?? call.function?.name, kind: call.type === 'custom' ? 'custom' : 'function', input: piece, id: call.id };
    else known.input += piece;
  }
}

function readChatUsage(answer: ClientAnswer, usage: Json | undefined): void {
  if (usage) answer.usage = { input: usage.prompt_tokens, cached: usage.prompt_tokens_details?.cached_tokens ?? 0, output: usage.completion_tokens };
}

/** Anthropic input_tokens exclude cache reads and writes: back to the inclusive count to compare. */
function readAnthropicUsage(answer: ClientAnswer, usage: Json | undefined): void {
  if (usage) answer.usage = { input: (usage.input_tokens ?? 0) + (usage.cache_read_input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0), cached: usage.cache_read_input_tokens ?? 0, output: usage.output_tokens };
}

function readAnthropicBody(answer: ClientAnswer, body: Json): void {
  for (const block of body['content'] ?? []) {
    if (block.type === 'text') answer.text += block.text;
    if (block.type === 'thinking') answer.reasoning += block.thinking;
    if (block.type === 'tool_use') answer.calls.push({ name: block.name, kind: 'function', input: JSON.stringify(block.input) });
  }
  readAnthropicUsage(answer, body['usage']);
}

function readAnthropicEvent(answer: ClientAnswer, event: Json, blocks: Map<number, Json>): void {
  if (event['type'] === 'error') answer.error = event['error'].message;
  if (event['type'] === 'message_delta') readAnthropicUsage(answer, event['usage']);
  if (event['type'] === 'content_block_start') {
    const block = { ...event['content_block'], partial: '' };
    blocks.set(event['index'], block);
    if (block.type === 'tool_use') answer.calls.push({ name: block.name, kind: 'function', input: '' });
  }
  if (event['type'] === 'content_block_delta') {
    const delta = event['delta'];
    if (delta.type === 'text_delta') answer.text += delta.text;
    if (delta.type === 'thinking_delta') answer.reasoning += delta.thinking;
    if (delta.type === 'input_json_delta') answer.calls.at(-1)!.input += delta.partial_json;
  }
}
