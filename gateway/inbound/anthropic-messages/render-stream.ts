import type { CanonicalEvent } from '../../canonical/event.ts';
import type { CanonicalUsage } from '../../canonical/usage.ts';
import { ERROR_CODES } from '../../errors/error-codes.ts';
import { sseFrame, type RenderContext, type StreamRenderer } from '../render-context.ts';
import { anthropicDeltaUsage, anthropicMessage, anthropicStopReason, thinkingSignature } from './render-response.ts';

/**
 * Canonical events → Anthropic Messages SSE. Every frame has an `event:` line (the SDK skips
 * frames without one): `message_start`, `ping`, `content_block_start/delta/stop`, `message_delta`
 * with cumulative usage, `message_stop`; an in-band failure is an `error` event.
 */
export function createAnthropicMessagesStreamRenderer(context: RenderContext): StreamRenderer {
  const blocks = new Map<string, { index: number; text: string }>();
  let nextIndex = 0;
  let started = false;
  let usage: CanonicalUsage | undefined;
  let hasToolCalls = false;
  const frame = (type: string, payload: Record<string, unknown>): string => sseFrame(type, { type, ...payload });
  const begin = (): string => {
    if (started) return '';
    started = true;
    return frame('message_start', { message: anthropicMessage(context, [], null, undefined) }) + frame('ping', {});
  };
  const open = (id: string, contentBlock: Record<string, unknown>): string => {
    const index = nextIndex++;
    blocks.set(id, { index, text: '' });
    return frame('content_block_start', { index, content_block: contentBlock });
  };
  const render = (event: CanonicalEvent): string => {
    let out = begin();
    const block = 'id' in event && typeof event.id === 'string' ? blocks.get(event.id) : undefined;
    switch (event.type) {
      case 'text-start':
        return out + open(event.id, { type: 'text', text: '', citations: null });
      case 'text-delta':
        return block === undefined || event.delta === '' ? out : out + frame('content_block_delta', { index: block.index, delta: { type: 'text_delta', text: event.delta } });
      case 'reasoning-start':
        return out + open(event.id, { type: 'thinking', thinking: '', signature: '' });
      case 'reasoning-delta':
        if (block === undefined || event.delta === '') return out;
        block.text += event.delta;
        return out + frame('content_block_delta', { index: block.index, delta: { type: 'thinking_delta', thinking: event.delta } });
      case 'reasoning-end': {
        if (block === undefined) return out;
        const signature = thinkingSignature(event.opaque, block.text);
        if (signature !== '') out += frame('content_block_delta', { index: block.index, delta: { type: 'signature_delta', signature } });
        return out + frame('content_block_stop', { index: block.index });
      }
      case 'tool-call-start':
        hasToolCalls = true;
        return out + open(event.id, { type: 'tool_use', id: event.callId, name: event.name, input: {}, caller: { type: 'direct' } });
      case 'tool-call-delta':
        return block === undefined || event.delta === '' ? out : out + frame('content_block_delta', { index: block.index, delta: { type: 'input_json_delta', partial_json: event.delta } });
      case 'text-end':
      case 'tool-call-end':
        return block === undefined ? out : out + frame('content_block_stop', { index: block.index });
      case 'usage':
        usage = event.usage;
        return out;
      case 'finish':
        return out + frame('message_delta', { delta: { stop_reason: anthropicStopReason(event.reason, hasToolCalls), stop_sequence: null, stop_details: null, container: null }, usage: anthropicDeltaUsage(usage) }) + frame('message_stop', {});
      case 'error':
        return out + frame('error', { error: { type: ERROR_CODES[event.code].anthropicType, message: event.message }, request_id: context.requestId });
      default:
        return out;
    }
  };
  return { contentType: 'text/event-stream; charset=utf-8', render };
}
