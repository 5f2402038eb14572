import type { CanonicalEvent } from '../../canonical/event.ts';
import { collectResponse, type CanonicalResponse } from '../../canonical/response.ts';
import type { WireEvent } from '../provider-adapter.ts';
import { guardStream } from '../stream-guard.ts';
import type { z } from 'zod';
import { asRecord, asString, parseEventData, readWireEvent, type UnreadableEventHandler } from '../wire-json.ts';
import { isRetryableBedrockException } from './classify-error.ts';
import { mapBedrockFinishReason } from './map-finish-reason.ts';
import { mapBedrockUsage } from './map-usage.ts';
import { BEDROCK_JSON_OUTPUT_TOOL, ConverseStreamEventSchemas, type ConverseUsage } from './wire-schema.ts';

interface Block {
  kind: 'text' | 'reasoning' | 'tool-call';
  id: string;
  input: string;
  signature: string;
  redacted: string | undefined;
}

/**
 * ConverseStream events → canonical. Text blocks have no `contentBlockStart` (they start with
 * their first delta); `metadata` (usage) comes after `messageStop`.
 */
export function fromBedrockStream(events: AsyncIterable<WireEvent>, onUnreadable?: UnreadableEventHandler): AsyncIterable<CanonicalEvent> {
  return guardStream('bedrock', parse(events, onUnreadable));
}

async function* parse(events: AsyncIterable<WireEvent>, onUnreadable: UnreadableEventHandler | undefined): AsyncIterable<CanonicalEvent> {
  const blocks = new Map<number, Block>();
  let stopReason: string | undefined;
  // The forced JSON-output tool's input is the answer: it streams as text, and the turn ends as a stop.
  let jsonOutput = false;
  const finishReason = () => (jsonOutput && stopReason === 'tool_use' ? mapBedrockFinishReason('end_turn') : mapBedrockFinishReason(stopReason));
  let metadataSent = false;
  for await (const wire of events) {
    const parsed = parseEventData(wire.data, onUnreadable);
    const data = parsed ?? {};
    if (wire.exception === true) {
      yield { type: 'error', code: wire.type === 'throttlingException' ? 'upstream_rate_limited' : 'upstream_error', message: `gatehouse: upstream bedrock failed mid-stream: ${asString(data['message']) ?? wire.type ?? 'exception'}`, retryable: isRetryableBedrockException(wire.type), upstreamType: wire.type };
      return;
    }
    if (!metadataSent) {
      metadataSent = true;
      yield { type: 'response-metadata' };
    }
    // A block event whose payload is not JSON was reported already; an empty payload reads as `{}`,
    // and the events that end the stream are never skipped.
    if (parsed === undefined && wire.data.trim() !== '' && wire.type !== 'messageStop' && wire.type !== 'metadata') continue;
    const read = <T>(schema: z.ZodType<T>): T | undefined => readWireEvent(schema, data, wire.data, onUnreadable);
    switch (wire.type) {
      case 'contentBlockStart': {
        const event = read(ConverseStreamEventSchemas.contentBlockStart);
        const started = event && startToolBlock(event, blocks);
        jsonOutput ||= started?.type === 'text-start';
        if (started !== undefined) yield started;
        break;
      }
      case 'contentBlockDelta': {
        const event = read(ConverseStreamEventSchemas.contentBlockDelta);
        if (event !== undefined) yield* blockDelta(event, blocks);
        break;
      }
      case 'contentBlockStop': {
        const event = read(ConverseStreamEventSchemas.contentBlockStop);
        if (event === undefined) break;
        const index = event.contentBlockIndex ?? 0;
        const block = blocks.get(index);
        blocks.delete(index);
        if (block !== undefined) yield endBlock(block);
        break;
      }
      case 'messageStop':
        for (const block of blocks.values()) yield endBlock(block);
        blocks.clear();
        stopReason = read(ConverseStreamEventSchemas.messageStop)?.stopReason ?? undefined;
        break;
      case 'metadata':
        yield { type: 'usage', usage: mapBedrockUsage((read(ConverseStreamEventSchemas.metadata)?.usage ?? {}) as ConverseUsage) };
        yield { type: 'finish', reason: finishReason() };
        return;
      default:
        break;
    }
  }
  // Usage metadata missing but the message stopped: still a finished answer.
  if (stopReason !== undefined) yield { type: 'finish', reason: finishReason() };
}

function endBlock(block: Block): CanonicalEvent {
  if (block.kind === 'text') return { type: 'text-end', id: block.id };
  if (block.kind === 'tool-call') return { type: 'tool-call-end', id: block.id, input: block.input === '' ? '{}' : block.input };
  const opaque = block.redacted !== undefined ? { family: 'bedrock' as const, kind: 'redacted_thinking', value: block.redacted } : block.signature !== '' ? { family: 'bedrock' as const, kind: 'signature', value: block.signature } : undefined;
  return { type: 'reasoning-end', id: block.id, opaque };
}

type BlockStart = z.infer<(typeof ConverseStreamEventSchemas)['contentBlockStart']>;

/** A tool-use block opens a tool call; the forced JSON-output tool's opens a text block (its input is the answer). */
function startToolBlock(event: BlockStart, blocks: Map<number, Block>): CanonicalEvent | undefined {
  const toolUse = event.start?.toolUse;
  if (toolUse === undefined) return undefined;
  const index = event.contentBlockIndex ?? 0;
  const block: Block = { kind: toolUse.name === BEDROCK_JSON_OUTPUT_TOOL ? 'text' : 'tool-call', id: `block_${index}`, input: '', signature: '', redacted: undefined };
  blocks.set(index, block);
  if (block.kind === 'text') return { type: 'text-start', id: block.id };
  return { type: 'tool-call-start', id: block.id, callId: toolUse.toolUseId, name: toolUse.name, kind: 'function' };
}

type BlockDelta = z.infer<(typeof ConverseStreamEventSchemas)['contentBlockDelta']>;

/** Text blocks have no contentBlockStart: the first delta of an index opens its block. */
function* blockDelta(event: BlockDelta, blocks: Map<number, Block>): Generator<CanonicalEvent> {
  const index = event.contentBlockIndex ?? 0;
  const { delta } = event;
  const reasoning = delta.reasoningContent;
  let block = blocks.get(index);
  if (block === undefined) {
    const kind = reasoning !== undefined ? 'reasoning' : 'text';
    block = { kind, id: `block_${index}`, input: '', signature: '', redacted: undefined };
    blocks.set(index, block);
    yield { type: kind === 'text' ? 'text-start' : 'reasoning-start', id: block.id };
  }
  if (delta.text !== undefined) yield { type: 'text-delta', id: block.id, delta: delta.text };
  else if (reasoning !== undefined) {
    if (reasoning.text !== undefined) yield { type: 'reasoning-delta', id: block.id, delta: reasoning.text };
    if (reasoning.signature !== undefined) block.signature += reasoning.signature;
    if (reasoning.redactedContent !== undefined) block.redacted = reasoning.redactedContent;
  } else if (delta.toolUse !== undefined) {
    const input = delta.toolUse.input ?? '';
    if (input !== '' && block.kind === 'text') yield { type: 'text-delta', id: block.id, delta: input };
    else if (input !== '') {
      block.input += input;
      yield { type: 'tool-call-delta', id: block.id, delta: input };
    }
  }
}

/** Non-streaming Converse body → canonical response. */
export function fromBedrockBody(body: unknown): CanonicalResponse {
  const response = asRecord(body);
  const message = asRecord(asRecord(response['output'])['message']);
  const events: CanonicalEvent[] = [{ type: 'response-metadata' }];
  let jsonOutput = false;
  const content = Array.isArray(message['content']) ? message['content'] : [];
  content.forEach((raw, index) => {
    const block = asRecord(raw);
    const id = `block_${index}`;
    if (typeof block['text'] === 'string') events.push({ type: 'text-start', id }, { type: 'text-delta', id, delta: block['text'] }, { type: 'text-end', id });
    else if (asRecord(block['toolUse'])['name'] === BEDROCK_JSON_OUTPUT_TOOL) {
      jsonOutput = true;
      events.push({ type: 'text-start', id }, { type: 'text-delta', id, delta: JSON.stringify(asRecord(block['toolUse'])['input'] ?? {}) }, { type: 'text-end', id });
    } else if (block['toolUse'] !== undefined) {
      const toolUse = asRecord(block['toolUse']);
      events.push({ type: 'tool-call-start', id, callId: asString(toolUse['toolUseId']) ?? id, name: asString(toolUse['name']) ?? '', kind: 'function' }, { type: 'tool-call-end', id, input: JSON.stringify(toolUse['input'] ?? {}) });
    } else if (block['reasoningContent'] !== undefined) {
      const reasoning = asRecord(asRecord(block['reasoningContent'])['reasoningText']);
      const signature = asString(reasoning['signature']);
      events.push({ type: 'reasoning-start', id }, { type: 'reasoning-delta', id, delta: asString(reasoning['text']) ?? '' }, { type: 'reasoning-end', id, opaque: signature !== undefined ? { family: 'bedrock', kind: 'signature', value: signature } : undefined });
    }
  });
  events.push({ type: 'usage', usage: mapBedrockUsage(asRecord(response['usage']) as ConverseUsage) });
  const stopReason = asString(response['stopReason']);
  events.push({ type: 'finish', reason: mapBedrockFinishReason(jsonOutput && stopReason === 'tool_use' ? 'end_turn' : stopReason) });
  return collectResponse(events);
}
