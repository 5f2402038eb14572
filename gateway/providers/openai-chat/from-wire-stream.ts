import type { CanonicalEvent } from '../../canonical/event.ts';
import { collectResponse, type CanonicalResponse } from '../../canonical/response.ts';
import type { WireEvent } from '../provider-adapter.ts';
import { guardStream } from '../stream-guard.ts';
import { asRecord, asString, parseEventData, type UnreadableEventHandler } from '../wire-json.ts';
import { mapChatFinishReason } from './map-finish-reason.ts';
import { mapChatUsage } from './map-usage.ts';
import { ChatChunkSchema, ChatUsageSchema, type ChatUsage } from './wire-schema.ts';

/** Chat Completions SSE → canonical events. Tool call argument deltas are keyed by `index`. */
export function fromChatStream(events: AsyncIterable<WireEvent>, onUnreadable?: UnreadableEventHandler): AsyncIterable<CanonicalEvent> {
  return guardStream('openai-chat', parse(events, onUnreadable));
}

interface ToolState {
  id: string;
  input: string;
}

// Over 60 lines: a generator whose stream state (open text, reasoning and tool calls) is shared by closeOpen and end.
async function* parse(events: AsyncIterable<WireEvent>, onUnreadable: UnreadableEventHandler | undefined): AsyncIterable<CanonicalEvent> {
  let metadataSent = false;
  let textOpen = false;
  let reasoningOpen = false;
  const tools = new Map<number, ToolState>();
  let finishReason: string | undefined;
  let usage: ChatUsage | undefined;
  function* closeOpen(): Generator<CanonicalEvent> {
    if (reasoningOpen) yield { type: 'reasoning-end', id: 'reasoning_0' };
    reasoningOpen = false;
    if (textOpen) yield { type: 'text-end', id: 'text_0' };
    textOpen = false;
    for (const tool of tools.values()) yield { type: 'tool-call-end', id: tool.id, input: tool.input === '' ? '{}' : tool.input };
    tools.clear();
  }
  function* end(): Generator<CanonicalEvent> {
    yield* closeOpen();
    if (usage !== undefined) yield { type: 'usage', usage: mapChatUsage(usage) };
    yield { type: 'finish', reason: mapChatFinishReason(finishReason) };
  }
  for await (const wire of events) {
    if (wire.data.trim() === '[DONE]') {
      if (finishReason === undefined) break;
      yield* end();
      return;
    }
    const data = parseEventData(wire.data, onUnreadable);
    if (data === undefined) continue;
    const chunk = ChatChunkSchema.parse(data);
    if (chunk.error !== undefined) {
      const error = asRecord(chunk.error);
      const code = asString(error['code']) ?? asString(error['type']);
      yield { type: 'error', code: code === 'rate_limit_exceeded' ? 'upstream_rate_limited' : 'upstream_error', message: `gatehouse: upstream openai-chat failed mid-stream: ${asString(error['message']) ?? code ?? 'error'}`, retryable: true, upstreamType: code };
      return;
    }
    if (!metadataSent) {
      metadataSent = true;
      yield { type: 'response-metadata', id: chunk.id ?? undefined, model: chunk.model ?? undefined };
    }
    if (chunk.usage !== undefined && chunk.usage !== null) usage = chunk.usage;
    const choice = chunk.choices[0] ?? {};
    const delta = choice.delta ?? {};
    const reasoning = delta.reasoning_content ?? delta.reasoning ?? undefined;
    if (reasoning !== undefined && reasoning !== '') {
      if (!reasoningOpen) yield { type: 'reasoning-start', id: 'reasoning_0' };
      reasoningOpen = true;
      yield { type: 'reasoning-delta', id: 'reasoning_0', delta: reasoning };
    }
    const content = delta.content;
    if (content !== undefined && content !== null && content !== '') {
      if (reasoningOpen) yield { type: 'reasoning-end', id: 'reasoning_0' };
      reasoningOpen = false;
      if (!textOpen) yield { type: 'text-start', id: 'text_0' };
      textOpen = true;
      yield { type: 'text-delta', id: 'text_0', delta: content };
    }
    for (const call of delta.tool_calls ?? []) {
      const index = call.index ?? tools.size;
      const fn = call.function ?? {};
      let state = tools.get(index);
      if (state === undefined) {
        state = { id: `tool_${index}`, input: '' };
        tools.set(index, state);
        yield { type: 'tool-call-start', id: state.id, callId: call.id ?? `call_${index}`, name: fn.name ?? '', kind: 'function' };
      }
      const argumentsDelta = fn.arguments;
      if (argumentsDelta !== undefined && argumentsDelta !== null && argumentsDelta !== '') {
        state.input += argumentsDelta;
        yield { type: 'tool-call-delta', id: state.id, delta: argumentsDelta };
      }
    }
    const reason = choice.finish_reason;
    if (reason !== undefined && reason !== null) finishReason = reason;
  }
  // Servers that omit `[DONE]` after a finish_reason still finished; without one the stream was cut.
  if (finishReason !== undefined) yield* end();
}

/** Non-streaming chat.completion → canonical response. */
export function fromChatBody(body: unknown): CanonicalResponse {
  const completion = asRecord(body);
  const choice = asRecord((Array.isArray(completion['choices']) ? completion['choices'] : [])[0]);
  const message = asRecord(choice['message']);
  const events: CanonicalEvent[] = [{ type: 'response-metadata', id: asString(completion['id']), model: asString(completion['model']) }];
  const reasoning = asString(message['reasoning_content']) ?? asString(message['reasoning']);
  if (reasoning !== undefined && reasoning !== '') events.push({ type: 'reasoning-start', id: 'reasoning_0' }, { type: 'reasoning-delta', id: 'reasoning_0', delta: reasoning }, { type: 'reasoning-end', id: 'reasoning_0' });
  const content = asString(message['content']);
  if (content !== undefined && content !== '') events.push({ type: 'text-start', id: 'text_0' }, { type: 'text-delta', id: 'text_0', delta: content }, { type: 'text-end', id: 'text_0' });
  const toolCalls = Array.isArray(message['tool_calls']) ? message['tool_calls'] : [];
  toolCalls.forEach((raw, index) => {
    const call = asRecord(raw);
    const fn = asRecord(call['function']);
    events.push({ type: 'tool-call-start', id: `tool_${index}`, callId: asString(call['id']) ?? `call_${index}`, name: asString(fn['name']) ?? '', kind: 'function' }, { type: 'tool-call-end', id: `tool_${index}`, input: asString(fn['arguments']) ?? '{}' });
  });
  if (completion['usage'] !== undefined) events.push({ type: 'usage', usage: mapChatUsage(ChatUsageSchema.parse(asRecord(completion['usage']))) });
  events.push({ type: 'finish', reason: mapChatFinishReason(asString(choice['finish_reason'])) });
  return collectResponse(events);
}
