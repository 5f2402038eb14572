import type { CanonicalEvent } from '../../canonical/event.ts';
import { collectResponse, type CanonicalResponse } from '../../canonical/response.ts';
import type { WireEvent } from '../provider-adapter.ts';
import { guardStream } from '../stream-guard.ts';
import type { z } from 'zod';
import { asRecord, asString, parseEventData, readWireEvent, type UnreadableEventHandler } from '../wire-json.ts';
import { isRetryableAnthropicStreamError } from './classify-error.ts';
import { mapAnthropicFinishReason } from './map-finish-reason.ts';
import { mapAnthropicUsage } from './map-usage.ts';
import { AnthropicStreamEventSchemas, type AnthropicUsage } from './wire-schema.ts';

interface OpenBlock {
  kind: 'text' | 'reasoning' | 'tool-call';
  id: string;
  input: string;
  signature: string;
}

/** Anthropic SSE → canonical events. Usage in `message_delta` is cumulative: the last one wins. */
export function fromAnthropicStream(events: AsyncIterable<WireEvent>, onUnreadable?: UnreadableEventHandler): AsyncIterable<CanonicalEvent> {
  return guardStream('anthropic', parse(events, onUnreadable));
}

async function* parse(events: AsyncIterable<WireEvent>, onUnreadable: UnreadableEventHandler | undefined): AsyncIterable<CanonicalEvent> {
  const blocks = new Map<number, OpenBlock>();
  let usage: AnthropicUsage = {};
  let stopReason: string | undefined;
  for await (const wire of events) {
    const data = parseEventData(wire.data, onUnreadable);
    if (data === undefined) continue;
    const type = asString(data['type']) ?? wire.type;
    const read = <T>(schema: z.ZodType<T>): T | undefined => readWireEvent(schema, data, wire.data, onUnreadable);
    switch (type) {
      case 'message_start': {
        const event = read(AnthropicStreamEventSchemas.message_start);
        if (event === undefined) break;
        usage = { ...usage, ...(event.message.usage as AnthropicUsage | undefined) };
        yield { type: 'response-metadata', id: event.message.id ?? undefined, model: event.message.model ?? undefined };
        break;
      }
      case 'content_block_start': {
        const event = read(AnthropicStreamEventSchemas.content_block_start);
        if (event !== undefined) yield* startBlock(event, blocks);
        break;
      }
      case 'content_block_delta': {
        const event = read(AnthropicStreamEventSchemas.content_block_delta);
        const block = event === undefined ? undefined : blocks.get(event.index);
        if (event !== undefined && block !== undefined) yield* blockDelta(event.delta, block);
        break;
      }
      case 'content_block_stop': {
        const event = read(AnthropicStreamEventSchemas.content_block_stop);
        const block = event === undefined ? undefined : blocks.get(event.index);
        if (event !== undefined) blocks.delete(event.index);
        if (block !== undefined) yield endBlock(block);
        break;
      }
      case 'message_delta': {
        const event = read(AnthropicStreamEventSchemas.message_delta);
        if (event === undefined) break;
        stopReason = event.delta?.stop_reason ?? stopReason;
        usage = { ...usage, ...stripNulls(event.usage ?? {}) };
        break;
      }
      case 'message_stop':
        yield { type: 'usage', usage: mapAnthropicUsage(usage) };
        yield { type: 'finish', reason: mapAnthropicFinishReason(stopReason) };
        return;
      case 'error':
        yield streamError(read(AnthropicStreamEventSchemas.error)?.error ?? {});
        return;
      default:
        break;
    }
  }
}

type BlockDelta = z.infer<(typeof AnthropicStreamEventSchemas)['content_block_delta']>['delta'];

function* blockDelta(delta: BlockDelta, block: OpenBlock): Generator<CanonicalEvent> {
  if (delta.type === 'text_delta') yield { type: 'text-delta', id: block.id, delta: delta.text };
  else if (delta.type === 'thinking_delta') yield { type: 'reasoning-delta', id: block.id, delta: delta.thinking };
  else if (delta.type === 'signature_delta') block.signature += delta.signature;
  else if (delta.type === 'input_json_delta' && delta.partial_json !== '') {
    block.input += delta.partial_json;
    yield { type: 'tool-call-delta', id: block.id, delta: delta.partial_json };
  }
}

function streamError(error: { type?: string | null | undefined; message?: string | null | undefined }): CanonicalEvent {
  const errorType = error.type ?? undefined;
  return {
    type: 'error',
    code: errorType === 'rate_limit_error' ? 'upstream_rate_limited' : errorType === 'overloaded_error' ? 'no_healthy_upstream' : 'upstream_error',
    message: `gatehouse: upstream anthropic failed mid-stream: ${error.message ?? errorType ?? 'error'}`,
    retryable: isRetryableAnthropicStreamError(errorType),
    upstreamType: errorType,
  };
}

type BlockStart = z.infer<(typeof AnthropicStreamEventSchemas)['content_block_start']>;

function* startBlock(event: BlockStart, blocks: Map<number, OpenBlock>): Generator<CanonicalEvent> {
  const { index, content_block: block } = event;
  const id = `blk_${index}`;
  if (block.type === 'text') {
    blocks.set(index, { kind: 'text', id, input: '', signature: '' });
    yield { type: 'text-start', id };
    if (typeof block.text === 'string' && block.text !== '') yield { type: 'text-delta', id, delta: block.text };
  } else if (block.type === 'thinking') {
    blocks.set(index, { kind: 'reasoning', id, input: '', signature: '' });
    yield { type: 'reasoning-start', id };
  } else if (block.type === 'redacted_thinking') {
    yield { type: 'reasoning-start', id };
    yield { type: 'reasoning-end', id, opaque: { family: 'anthropic', kind: 'redacted_thinking', value: block.data ?? '' } };
  } else if (block.type === 'tool_use') {
    blocks.set(index, { kind: 'tool-call', id, input: '', signature: '' });
    yield { type: 'tool-call-start', id, callId: block.id ?? id, name: block.name ?? '', kind: 'function' };
  }
}

function endBlock(block: OpenBlock): CanonicalEvent {
  if (block.kind === 'text') return { type: 'text-end', id: block.id };
  if (block.kind === 'reasoning') return { type: 'reasoning-end', id: block.id, opaque: block.signature !== '' ? { family: 'anthropic', kind: 'signature', value: block.signature } : undefined };
  return { type: 'tool-call-end', id: block.id, input: block.input === '' ? '{}' : block.input };
}

function stripNulls(record: Record<string, unknown>): AnthropicUsage {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(record)) if (value !== null && value !== undefined) out[key] = value;
  return out as AnthropicUsage;
}

/** Non-streaming Messages body → canonical response. */
export function fromAnthropicBody(body: unknown): CanonicalResponse {
  const message = asRecord(body);
  const events: CanonicalEvent[] = [{ type: 'response-metadata', id: asString(message['id']), model: asString(message['model']) }];
  const content = Array.isArray(message['content']) ? message['content'] : [];
  content.forEach((raw, index) => {
    const block = asRecord(raw);
    const id = `blk_${index}`;
    if (block['type'] === 'text') events.push({ type: 'text-start', id }, { type: 'text-delta', id, delta: asString(block['text']) ?? '' }, { type: 'text-end', id });
    else if (block['type'] === 'thinking') {
      const signature = asString(block['signature']);
      events.push({ type: 'reasoning-start', id }, { type: 'reasoning-delta', id, delta: asString(block['thinking']) ?? '' }, { type: 'reasoning-end', id, opaque: signature !== undefined ? { family: 'anthropic', kind: 'signature', value: signature } : undefined });
    } else if (block['type'] === 'redacted_thinking') {
      events.push({ type: 'reasoning-start', id }, { type: 'reasoning-end', id, opaque: { family: 'anthropic', kind: 'redacted_thinking', value: asString(block['data']) ?? '' } });
    } else if (block['type'] === 'tool_use') {
      const input = JSON.stringify(block['input'] ?? {});
      events.push({ type: 'tool-call-start', id, callId: asString(block['id']) ?? id, name: asString(block['name']) ?? '', kind: 'function' }, { type: 'tool-call-end', id, input });
    }
  });
  events.push({ type: 'usage', usage: mapAnthropicUsage(asRecord(message['usage']) as AnthropicUsage) });
  events.push({ type: 'finish', reason: mapAnthropicFinishReason(asString(message['stop_reason'])) });
  return collectResponse(events);
}
