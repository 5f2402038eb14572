import type { CanonicalEvent } from '../../canonical/event.ts';
import { collectResponse, type CanonicalResponse } from '../../canonical/response.ts';
import type { WireEvent } from '../provider-adapter.ts';
import { guardStream } from '../stream-guard.ts';
import { asRecord, asString, parseEventData, type UnreadableEventHandler } from '../wire-json.ts';
import { isRetryableBedrockException } from './classify-error.ts';
import { mapBedrockFinishReason } from './map-finish-reason.ts';
import { mapBedrockUsage } from './map-usage.ts';
import { BEDROCK_JSON_OUTPUT_TOOL, type ConverseUsage } from './wire-schema.ts';

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
  const endBlock = (block: Block): CanonicalEvent => {
    if (block.kind === 'text') return { type: 'text-end', id: block.id };
    if (block.kind === 'tool-call') return { type: 'tool-call-end', id: block.id, input: block.input === '' ? '{}' : block.input };
    const opaque = block.redacted !== undefined ? { family: 'bedrock' as const, kind: 'redacted_thinking', value: block.redacted } : block.signature !== '' ? { family: 'bedrock' as const, kind: 'signature', value: block.signature } : undefined;
    return { type: 'reasoning-end', id: block.id, opaque };
  };
  for await (const wire of events) {
    const data = parseEventData(wire.data, onUnreadable) ?? {};
    if (wire.exception === true) {
      yield { type: 'error', code: wire.type === 'throttlingException' ? 'upstream_rate_limited' : 'upstream_error', message: `gatehouse: upstream bedrock failed mid-stream: ${asString(data['message']) ?? wire.type ?? 'exception'}`, retryable: isRetryableBedrockException(wire.type), upstreamType: wire.type };
      return;
    }
    if (!metadataSent) {
      metadataSent = true;
      yield { type: 'response-metadata' };
    }
    const index = Number(data['contentBlockIndex'] ?? 0);
    switch (wire.type) {
      case 'contentBlockStart': {
        const toolUse = asRecord(asRecord(data['start'])['toolUse']);
        if (toolUse['toolUseId'] !== undefined && toolUse['name'] === BEDROCK_JSON_OUTPUT_TOOL) {
          jsonOutput = true;
          blocks.set(index, { kind: 'text', id: `block_${index}`, input: '', signature: '', redacted: undefined });
          yield { type: 'text-start', id: `block_${index}` };
        } else if (toolUse['toolUseId'] !== undefined) {
          const block: Block = { kind: 'tool-call', id: `block_${index}`, input: '', signature: '', redacted: undefined };
          blocks.set(index, block);
          yield { type: 'tool-call-start', id: block.id, callId: asString(toolUse['toolUseId']) ?? block.id, name: asString(toolUse['name']) ?? '', kind: 'function' };
        }
        break;
      }
      case 'contentBlockDelta': {
        const delta = asRecord(data['delta']);
        let block = blocks.get(index);
        const reasoning = delta['reasoningContent'] !== undefined ? asRecord(delta['reasoningContent']) : undefined;
        if (block === undefined) {
          const kind = reasoning !== undefined ? 'reasoning' : 'text';
          block = { kind, id: `block_${index}`, input: '', signature: '', redacted: undefined };
          blocks.set(index, block);
          yield { type: kind === 'text' ? 'text-start' : 'reasoning-start', id: block.id };
        }
        if (typeof delta['text'] === 'string') yield { type: 'text-delta', id: block.id, delta: delta['text'] };
        else if (reasoning !== undefined) {
          if (typeof reasoning['text'] === 'string') yield { type: 'reasoning-delta', id: block.id, delta: reasoning['text'] };
          if (typeof reasoning['signature'] === 'string') block.signature += reasoning['signature'];
          if (typeof reasoning['redactedContent'] === 'string') block.redacted = reasoning['redactedContent'];
        } else if (delta['toolUse'] !== undefined) {
          const input = asString(asRecord(delta['toolUse'])['input']) ?? '';
          if (input !== '' && block.kind === 'text') yield { type: 'text-delta', id: block.id, delta: input };
          else if (input !== '') {
            block.input += input;
            yield { type: 'tool-call-delta', id: block.id, delta: input };
          }
        }
        break;
      }
      case 'contentBlockStop': {
        const block = blocks.get(index);
        blocks.delete(index);
        if (block !== undefined) yield endBlock(block);
        break;
      }
      case 'messageStop':
        for (const block of blocks.values()) yield endBlock(block);
        blocks.clear();
        stopReason = asString(data['stopReason']);
        break;
      case 'metadata':
        yield { type: 'usage', usage: mapBedrockUsage(asRecord(data['usage']) as ConverseUsage) };
        yield { type: 'finish', reason: finishReason() };
        return;
      default:
        break;
    }
  }
  // Usage metadata missing but the message stopped: still a finished answer.
  if (stopReason !== undefined) yield { type: 'finish', reason: finishReason() };
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
