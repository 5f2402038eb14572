import type { CanonicalEvent } from '../../canonical/event.ts';
import { encodeOpaque } from '../../canonical/opaque-envelope.ts';
import type { CanonicalUsage } from '../../canonical/usage.ts';
import { sseFrame, type RenderContext, type StreamRenderer } from '../render-context.ts';
import { responseObject, responsesUsage } from './render-response.ts';

type Json = Record<string, unknown>;

interface OpenItem {
  outputIndex: number;
  item: Json;
  /** Text, reasoning summary, arguments or custom input accumulated so far. */
  text: string;
  started: boolean;
}

/**
 * Canonical events → Responses SSE: `response.created`, `response.in_progress`, per item
 * `response.output_item.added` … `.done` with the matching delta events (text, reasoning summary,
 * function arguments with `name` on `.done`, custom tool input), then `response.completed`
 * carrying the full `output` and `usage` — or `response.failed` for an in-band error.
 */
// Over 60 lines: a factory: the closures share the stream's state (sequence, output, open items); `render` below is the per-event work.
export function createResponsesStreamRenderer(context: RenderContext): StreamRenderer {
  let sequence = 0;
  const output: Json[] = [];
  const open = new Map<string, OpenItem>();
  let usage: CanonicalUsage | undefined;
  let started = false;
  let itemCount = 0;
  const frame = (type: string, payload: Json): string => sseFrame(type, { type, sequence_number: sequence++, ...payload });
  const nextId = (prefix: string): string => `${prefix}_${context.requestId.replace(/[^A-Za-z0-9]/g, '')}_${itemCount++}`;
  const base = (status: string): Json => responseObject(context, status, output, undefined);

  const begin = (): string => {
    if (started) return '';
    started = true;
    return frame('response.created', { response: base('in_progress') }) + frame('response.in_progress', { response: base('in_progress') });
  };
  const addItem = (canonicalId: string, item: Json): string => {
    const state: OpenItem = { outputIndex: output.length, item, text: '', started: false };
    output.push(item);
    open.set(canonicalId, state);
    return frame('response.output_item.added', { output_index: state.outputIndex, item: { ...item } });
  };

  // Over 60 lines: one switch, one case per canonical event, each giving the Responses SSE events it maps to; read against OpenAI's streaming docs.
  const render = (event: CanonicalEvent): string => {
    let out = begin();
    switch (event.type) {
      case 'response-metadata':
        return out;
      case 'text-start':
        out += addItem(event.id, { id: nextId('msg'), type: 'message', status: 'in_progress', role: 'assistant', content: [] });
        out += frame('response.content_part.added', { item_id: open.get(event.id)!.item['id'], output_index: open.get(event.id)!.outputIndex, content_index: 0, part: { type: 'output_text', text: '', annotations: [], logprobs: [] } });
        return out;
      case 'text-delta': {
        const state = open.get(event.id);
        if (state === undefined) return out;
        state.text += event.delta;
        return out + frame('response.output_text.delta', { item_id: state.item['id'], output_index: state.outputIndex, content_index: 0, delta: event.delta, logprobs: [] });
      }
      case 'text-end': {
        const state = open.get(event.id);
        if (state === undefined) return out;
        open.delete(event.id);
        const part = { type: 'output_text', text: state.text, annotations: [], logprobs: [] };
        Object.assign(state.item, { status: 'completed', content: [part] });
        const ids = { item_id: state.item['id'], output_index: state.outputIndex, content_index: 0 };
        return out + frame('response.output_text.done', { ...ids, text: state.text, logprobs: [] }) + frame('response.content_part.done', { ...ids, part }) + frame('response.output_item.done', { output_index: state.outputIndex, item: state.item });
      }
      case 'reasoning-start':
        return out + addItem(event.id, { id: nextId('rs'), type: 'reasoning', summary: [] });
      case 'reasoning-delta': {
        const state = open.get(event.id);
        if (state === undefined || event.delta === '') return out;
        const ids = { item_id: state.item['id'], output_index: state.outputIndex, summary_index: 0 };
        if (!state.started) {
          state.started = true;
          out += frame('response.reasoning_summary_part.added', { ...ids, part: { type: 'summary_text', text: '' } });
        }
        state.text += event.delta;
        return out + frame('response.reasoning_summary_text.delta', { ...ids, delta: event.delta });
      }
      case 'reasoning-end': {
        const state = open.get(event.id);
        if (state === undefined) return out;
        open.delete(event.id);
        const ids = { item_id: state.item['id'], output_index: state.outputIndex, summary_index: 0 };
        if (state.started) {
          out += frame('response.reasoning_summary_text.done', { ...ids, text: state.text });
          out += frame('response.reasoning_summary_part.done', { ...ids, part: { type: 'summary_text', text: state.text } });
        }
        state.item['summary'] = state.started ? [{ type: 'summary_text', text: state.text }] : [];
        // Foreign opaque data (Anthropic signatures, Gemini thought signatures) rides in our envelope.
        if (event.opaque !== undefined) state.item['encrypted_content'] = encodeOpaque(event.opaque, event.opaque.family === 'openai' ? undefined : state.text);
        return out + frame('response.output_item.done', { output_index: state.outputIndex, item: state.item });
      }
      case 'tool-call-start': {
        const namespace = event.namespace !== undefined ? { namespace: event.namespace } : {};
        const item =
          event.kind === 'custom'
            ? { id: nextId('ctc'), type: 'custom_tool_call', status: 'in_progress', call_id: event.callId, name: event.name, ...namespace, input: '' }
            : { id: nextId('fc'), type: 'function_call', status: 'in_progress', call_id: event.callId, name: event.name, ...namespace, arguments: '' };
        return out + addItem(event.id, item);
      }
      case 'tool-call-delta': {
        const state = open.get(event.id);
        if (state === undefined || event.delta === '') return out;
        state.text += event.delta;
        const type = state.item['type'] === 'custom_tool_call' ? 'response.custom_tool_call_input.delta' : 'response.function_call_arguments.delta';
        return out + frame(type, { item_id: state.item['id'], output_index: state.outputIndex, delta: event.delta });
      }
      case 'tool-call-end': {
        const state = open.get(event.id);
        if (state === undefined) return out;
        open.delete(event.id);
        const ids = { item_id: state.item['id'], output_index: state.outputIndex };
        state.item['status'] = 'completed';
        if (state.item['type'] === 'custom_tool_call') {
          state.item['input'] = event.input;
          out += frame('response.custom_tool_call_input.done', { ...ids, input: event.input });
        } else {
          state.item['arguments'] = event.input;
          out += frame('response.function_call_arguments.done', { ...ids, name: state.item['name'], arguments: event.input });
        }
        return out + frame('response.output_item.done', { output_index: state.outputIndex, item: state.item });
      }
      case 'usage':
        usage = event.usage;
        return out;
      case 'finish': {
        const incomplete = event.reason.unified === 'length' || event.reason.unified === 'content-filter';
        const response = responseObject(context, incomplete ? 'incomplete' : 'completed', output, usage !== undefined ? responsesUsage(usage) : null);
        if (incomplete) response['incomplete_details'] = { reason: event.reason.unified === 'length' ? 'max_output_tokens' : 'content_filter' };
        return out + frame(incomplete ? 'response.incomplete' : 'response.completed', { response });
      }
      case 'error': {
        const response = responseObject(context, 'failed', output, usage !== undefined ? responsesUsage(usage) : null);
        response['error'] = { code: event.code, message: event.message };
        return out + frame('response.failed', { response });
      }
    }
  };
  return { contentType: 'text/event-stream; charset=utf-8', render };
}
