import type { CanonicalEvent } from '../../canonical/event.ts';
import { decodeOpaque } from '../../canonical/opaque-envelope.ts';
import { collectResponse, type CanonicalResponse } from '../../canonical/response.ts';
import type { WireEvent } from '../provider-adapter.ts';
import { guardStream } from '../stream-guard.ts';
import type { z } from 'zod';
import { asRecord, asString, parseEventData, readWireEvent, type UnreadableEventHandler } from '../wire-json.ts';
import { mapResponsesFinishReason } from './map-finish-reason.ts';
import { mapResponsesUsage } from './map-usage.ts';
import { ResponsesStreamEventSchemas, type ResponsesUsage } from './wire-schema.ts';

/** Responses SSE → canonical events (used by `openai` and `azure-openai`). */
export function fromResponsesStream(events: AsyncIterable<WireEvent>, provider = 'openai', onUnreadable?: UnreadableEventHandler): AsyncIterable<CanonicalEvent> {
  return guardStream(provider, parse(events, provider, onUnreadable));
}

interface ItemState {
  kind: 'message' | 'reasoning' | 'function' | 'custom';
  /** Canonical ids of text parts started for a message item. */
  textIds: Set<string>;
  summaryIndex: number;
}

async function* parse(events: AsyncIterable<WireEvent>, provider: string, onUnreadable: UnreadableEventHandler | undefined): AsyncIterable<CanonicalEvent> {
  const items = new Map<string, ItemState>();
  let hasToolCalls = false;
  for await (const wire of events) {
    const data = parseEventData(wire.data, onUnreadable);
    if (data === undefined) continue;
    const type = asString(data['type']) ?? wire.type;
    const read = <T>(schema: z.ZodType<T>): T | undefined => readWireEvent(schema, data, wire.data, onUnreadable);
    switch (type) {
      case 'response.created': {
        const response = read(ResponsesStreamEventSchemas['response.created'])?.response;
        if (response !== undefined) yield { type: 'response-metadata', id: response.id ?? undefined, model: response.model ?? undefined };
        break;
      }
      case 'response.output_item.added': {
        const event = read(ResponsesStreamEventSchemas['response.output_item.added']);
        const started = event && startItem(event.item, event.item.id ?? `item_${String(event.output_index)}`, items);
        hasToolCalls ||= started?.type === 'tool-call-start';
        if (started !== undefined) yield started;
        break;
      }
      case 'response.output_text.delta': {
        const event = read(ResponsesStreamEventSchemas[type]);
        if (event !== undefined) yield* textDelta(event, items);
        break;
      }
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta': {
        const event = read(ResponsesStreamEventSchemas[type]);
        if (event !== undefined) yield* reasoningDelta(event, items);
        break;
      }
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta': {
        const event = read(ResponsesStreamEventSchemas[type]);
        if (event !== undefined && event.delta !== '') yield { type: 'tool-call-delta', id: event.item_id, delta: event.delta };
        break;
      }
      case 'response.output_item.done': {
        const item = read(ResponsesStreamEventSchemas['response.output_item.done'])?.item;
        if (item !== undefined) yield* endItem(item, items);
        break;
      }
      case 'response.completed':
      case 'response.incomplete': {
        const response: TerminalResponse = read(ResponsesStreamEventSchemas[type])?.response ?? { usage: {} };
        yield { type: 'usage', usage: mapResponsesUsage(response.usage as ResponsesUsage) };
        yield { type: 'finish', reason: mapResponsesFinishReason(response.status ?? undefined, response.incomplete_details?.reason ?? undefined, hasToolCalls) };
        return;
      }
      case 'response.failed':
      case 'error':
        yield failedMidStream(provider, asRecord(type === 'error' ? read(ResponsesStreamEventSchemas.error) : read(ResponsesStreamEventSchemas['response.failed'])?.response.error));
        return;
      default:
        break;
    }
  }
}

type ResponsesItem = z.infer<(typeof ResponsesStreamEventSchemas)['response.output_item.added']>['item'];
type TerminalResponse = { status?: string | null | undefined; usage: Record<string, unknown>; incomplete_details?: { reason?: string | null | undefined } | null | undefined };
type TextDelta = z.infer<(typeof ResponsesStreamEventSchemas)['response.output_text.delta']>;

function startItem(item: ResponsesItem, id: string, items: Map<string, ItemState>): CanonicalEvent | undefined {
  if (item.type === 'message') items.set(id, { kind: 'message', textIds: new Set(), summaryIndex: -1 });
  else if (item.type === 'reasoning') {
    items.set(id, { kind: 'reasoning', textIds: new Set(), summaryIndex: -1 });
    return { type: 'reasoning-start', id };
  } else if (item.type === 'function_call' || item.type === 'custom_tool_call') {
    const kind = item.type === 'function_call' ? 'function' : 'custom';
    items.set(id, { kind, textIds: new Set(), summaryIndex: -1 });
    return { type: 'tool-call-start', id, callId: item.call_id ?? id, name: item.name ?? '', kind, namespace: item.namespace ?? undefined };
  }
  return undefined;
}

function* textDelta(event: TextDelta, items: Map<string, ItemState>): Generator<CanonicalEvent> {
  const state = items.get(event.item_id);
  const textId = `${event.item_id}:${String(event.content_index ?? 0)}`;
  if (state !== undefined && !state.textIds.has(textId)) {
    state.textIds.add(textId);
    yield { type: 'text-start', id: textId };
  }
  if (event.delta !== '') yield { type: 'text-delta', id: textId, delta: event.delta };
}

function* reasoningDelta(event: TextDelta, items: Map<string, ItemState>): Generator<CanonicalEvent> {
  const state = items.get(event.item_id);
  const index = event.summary_index ?? event.content_index ?? 0;
  if (state !== undefined && state.summaryIndex !== index) {
    if (state.summaryIndex >= 0) yield { type: 'reasoning-delta', id: event.item_id, delta: '\n\n' };
    state.summaryIndex = index;
  }
  yield { type: 'reasoning-delta', id: event.item_id, delta: event.delta };
}

function* endItem(item: ResponsesItem, items: Map<string, ItemState>): Generator<CanonicalEvent> {
  const id = item.id ?? '';
  const state = items.get(id);
  items.delete(id);
  if (state === undefined) return;
  if (state.kind === 'message') {
    for (const textId of state.textIds) yield { type: 'text-end', id: textId };
  } else if (state.kind === 'reasoning') {
    const encrypted = item.encrypted_content ?? undefined;
    yield { type: 'reasoning-end', id, opaque: encrypted !== undefined ? decodeOpaque(encrypted).opaque : undefined };
  } else {
    yield { type: 'tool-call-end', id, input: (state.kind === 'function' ? item.arguments : item.input) ?? '' };
  }
}

function failedMidStream(provider: string, error: Record<string, unknown>): CanonicalEvent {
  const code = asString(error['code']) ?? asString(error['type']);
  return {
    type: 'error',
    code: code === 'rate_limit_exceeded' ? 'upstream_rate_limited' : code === 'server_is_overloaded' ? 'no_healthy_upstream' : 'upstream_error',
    message: `gatehouse: upstream ${provider} failed mid-stream: ${asString(error['message']) ?? code ?? 'error'}`,
    retryable: code !== 'context_length_exceeded' && code !== 'invalid_prompt',
    upstreamType: code,
  };
}

/** Non-streaming Responses body → canonical response. */
export function fromResponsesBody(body: unknown): CanonicalResponse {
  const response = asRecord(body);
  const events: CanonicalEvent[] = [{ type: 'response-metadata', id: asString(response['id']), model: asString(response['model']) }];
  let hasToolCalls = false;
  const output = Array.isArray(response['output']) ? response['output'] : [];
  output.forEach((raw, index) => {
    const item = asRecord(raw);
    const id = asString(item['id']) ?? `item_${index}`;
    if (item['type'] === 'message') {
      const content = Array.isArray(item['content']) ? item['content'] : [];
      content.forEach((part, partIndex) => {
        const text = asString(asRecord(part)['text']) ?? asString(asRecord(part)['refusal']) ?? '';
        const textId = `${id}:${partIndex}`;
        events.push({ type: 'text-start', id: textId }, { type: 'text-delta', id: textId, delta: text }, { type: 'text-end', id: textId });
      });
    } else if (item['type'] === 'reasoning') {
      const summary = (Array.isArray(item['summary']) ? item['summary'] : []).map((part) => asString(asRecord(part)['text']) ?? '').join('\n\n');
      const encrypted = asString(item['encrypted_content']);
      events.push({ type: 'reasoning-start', id }, { type: 'reasoning-delta', id, delta: summary }, { type: 'reasoning-end', id, opaque: encrypted !== undefined ? decodeOpaque(encrypted).opaque : undefined });
    } else if (item['type'] === 'function_call' || item['type'] === 'custom_tool_call') {
      hasToolCalls = true;
      const kind = item['type'] === 'function_call' ? 'function' : 'custom';
      events.push(
        { type: 'tool-call-start', id, callId: asString(item['call_id']) ?? id, name: asString(item['name']) ?? '', kind, namespace: asString(item['namespace']) },
        { type: 'tool-call-end', id, input: (kind === 'function' ? asString(item['arguments']) : asString(item['input'])) ?? '' },
      );
    }
  });
  events.push({ type: 'usage', usage: mapResponsesUsage(asRecord(response['usage']) as ResponsesUsage) });
  events.push({ type: 'finish', reason: mapResponsesFinishReason(asString(response['status']), asString(asRecord(response['incomplete_details'])['reason']), hasToolCalls) });
  return collectResponse(events);
}
