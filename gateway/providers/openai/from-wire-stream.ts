import type { CanonicalEvent } from '../../canonical/event.ts';
import { decodeOpaque } from '../../canonical/opaque-envelope.ts';
import { collectResponse, type CanonicalResponse } from '../../canonical/response.ts';
import type { WireEvent } from '../provider-adapter.ts';
import { guardStream } from '../stream-guard.ts';
import { asRecord, asString, parseEventData, type UnreadableEventHandler } from '../wire-json.ts';
import { mapResponsesFinishReason } from './map-finish-reason.ts';
import { mapResponsesUsage } from './map-usage.ts';
import type { ResponsesUsage } from './wire-schema.ts';

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
    const itemId = asString(data['item_id']) ?? '';
    switch (type) {
      case 'response.created': {
        const response = asRecord(data['response']);
        yield { type: 'response-metadata', id: asString(response['id']), model: asString(response['model']) };
        break;
      }
      case 'response.output_item.added': {
        const item = asRecord(data['item']);
        const id = asString(item['id']) ?? `item_${String(data['output_index'])}`;
        if (item['type'] === 'message') items.set(id, { kind: 'message', textIds: new Set(), summaryIndex: -1 });
        else if (item['type'] === 'reasoning') {
          items.set(id, { kind: 'reasoning', textIds: new Set(), summaryIndex: -1 });
          yield { type: 'reasoning-start', id };
        } else if (item['type'] === 'function_call' || item['type'] === 'custom_tool_call') {
          const kind = item['type'] === 'function_call' ? 'function' : 'custom';
          hasToolCalls = true;
          items.set(id, { kind, textIds: new Set(), summaryIndex: -1 });
          yield { type: 'tool-call-start', id, callId: asString(item['call_id']) ?? id, name: asString(item['name']) ?? '', kind, namespace: asString(item['namespace']) };
        }
        break;
      }
      case 'response.output_text.delta': {
        const state = items.get(itemId);
        const textId = `${itemId}:${String(data['content_index'] ?? 0)}`;
        if (state !== undefined && !state.textIds.has(textId)) {
          state.textIds.add(textId);
          yield { type: 'text-start', id: textId };
        }
        if (typeof data['delta'] === 'string' && data['delta'] !== '') yield { type: 'text-delta', id: textId, delta: data['delta'] };
        break;
      }
      case 'response.reasoning_summary_text.delta':
      case 'response.reasoning_text.delta': {
        const state = items.get(itemId);
        const index = Number(data['summary_index'] ?? data['content_index'] ?? 0);
        if (state !== undefined && state.summaryIndex !== index) {
          if (state.summaryIndex >= 0) yield { type: 'reasoning-delta', id: itemId, delta: '\n\n' };
          state.summaryIndex = index;
        }
        if (typeof data['delta'] === 'string') yield { type: 'reasoning-delta', id: itemId, delta: data['delta'] };
        break;
      }
      case 'response.function_call_arguments.delta':
      case 'response.custom_tool_call_input.delta':
        if (typeof data['delta'] === 'string' && data['delta'] !== '') yield { type: 'tool-call-delta', id: itemId, delta: data['delta'] };
        break;
      case 'response.output_item.done': {
        const item = asRecord(data['item']);
        const id = asString(item['id']) ?? '';
        const state = items.get(id);
        items.delete(id);
        if (state === undefined) break;
        if (state.kind === 'message') {
          for (const textId of state.textIds) yield { type: 'text-end', id: textId };
        } else if (state.kind === 'reasoning') {
          const encrypted = asString(item['encrypted_content']);
          yield { type: 'reasoning-end', id, opaque: encrypted !== undefined ? decodeOpaque(encrypted).opaque : undefined };
        } else {
          yield { type: 'tool-call-end', id, input: (state.kind === 'function' ? asString(item['arguments']) : asString(item['input'])) ?? '' };
        }
        break;
      }
      case 'response.completed':
      case 'response.incomplete': {
        const response = asRecord(data['response']);
        yield { type: 'usage', usage: mapResponsesUsage(asRecord(response['usage']) as ResponsesUsage) };
        const incomplete = asString(asRecord(response['incomplete_details'])['reason']);
        yield { type: 'finish', reason: mapResponsesFinishReason(asString(response['status']), incomplete, hasToolCalls) };
        return;
      }
      case 'response.failed':
      case 'error': {
        const error = type === 'error' ? data : asRecord(asRecord(data['response'])['error']);
        const code = asString(error['code']) ?? asString(error['type']);
        yield {
          type: 'error',
          code: code === 'rate_limit_exceeded' ? 'upstream_rate_limited' : code === 'server_is_overloaded' ? 'no_healthy_upstream' : 'upstream_error',
          message: `gatehouse: upstream ${provider} failed mid-stream: ${asString(error['message']) ?? code ?? 'error'}`,
          retryable: code !== 'context_length_exceeded' && code !== 'invalid_prompt',
          upstreamType: code,
        };
        return;
      }
      default:
        break;
    }
  }
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
