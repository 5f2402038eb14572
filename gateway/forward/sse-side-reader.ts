import type { NormalizedUsage, OutputToolCall } from '../../shared/telemetry/turn-record.ts';
import { toolCallsFromResponsesOutput, usageFromChat, usageFromResponses } from './read-openai-usage.ts';
import { mergeAnthropicUsage, usageFromAnthropic, type AnthropicUsage } from './read-anthropic-usage.ts';

import { StringDecoder } from 'node:string_decoder';
import type { InboundProtocol } from './forward-types.ts';

const RESPONSES_FINAL_EVENTS = ['response.completed', 'response.failed', 'response.incomplete'];
const RESPONSES_PARSED_EVENTS = new Set([...RESPONSES_FINAL_EVENTS, 'error']);
/** Anthropic frames worth parsing: usage (start, delta), tool-use starts, errors. Tool input deltas are tested apart. */
const ANTHROPIC_PARSED_EVENTS = new Set(['message_start', 'message_delta', 'content_block_start', 'error']);

/** Protocols whose streams the side reader understands. */
/** The client protocols whose streams the side reader reads: all of them. */
export type SideReaderProtocol = InboundProtocol;

/**
 * Reads a pass-through SSE stream on the side without slowing it: only the few events that carry
 * usage, the final output or an error are JSON-parsed; every other frame is skipped by a substring test.
 */
export class SseSideReader {
  usage: NormalizedUsage | undefined;
  toolCalls: OutputToolCall[] = [];
  model: string | undefined;
  completed = false;
  failed: { code: string; message: string } | undefined;
  /** Delta frames seen (text, arguments, reasoning): about one token each on OpenAI streams. */
  deltaFrames = 0;
  private buffer = '';
  /** Keeps a multi-byte character split across two chunks whole. */
  private readonly decoder = new StringDecoder('utf8');
  private readonly protocol: SideReaderProtocol;
  /** Tool calls by their stream index (Chat `tool_calls[].index`, Anthropic content block `index`). */
  private readonly chatToolCalls = new Map<number, OutputToolCall>();
  private anthropicUsage: AnthropicUsage | undefined;

  constructor(protocol: SideReaderProtocol) {
    this.protocol = protocol;
  }

  push(chunk: Buffer): void {
    let text = this.buffer + this.decoder.write(chunk);
    if (text.includes('\r')) text = text.replaceAll('\r\n', '\n');
    let start = 0;
    let boundary = text.indexOf('\n\n');
    while (boundary !== -1) {
      this.onFrame(text, start, boundary);
      start = boundary + 2;
      boundary = text.indexOf('\n\n', start);
    }
    this.buffer = start === 0 ? text : text.slice(start);
  }

  finish(): void {
    this.buffer += this.decoder.end();
    if (this.buffer.trim().length > 0) this.onFrame(this.buffer, 0, this.buffer.length);
    this.buffer = '';
    if (this.protocol !== 'openai-responses') this.toolCalls = [...this.chatToolCalls.values()];
    // Cut short (client gone, upstream died): no final usage, but what was generated was billed.
    // Output is estimated from the deltas seen; input is left 0 for the caller to estimate.
    // Anthropic reports input at the start: only the output is unknown when such a stream is cut.
    if (!this.completed && this.usage !== undefined && this.protocol === 'anthropic-messages') {
      this.usage = { ...this.usage, outputTokens: Math.max(this.usage.outputTokens, this.deltaFrames) };
    }
    if (!this.completed && this.usage === undefined && this.deltaFrames > 0) {
      this.usage = { inputTokens: 0, cachedInputTokens: 0, cacheWriteTokens: 0, outputTokens: this.deltaFrames, reasoningTokens: 0 };
    }
  }

  private static dataOf(frame: string): string {
    let data = '';
    for (const line of frame.split('\n')) {
      if (line.startsWith('data:')) data += (data ? '\n' : '') + line.slice(line.charAt(5) === ' ' ? 6 : 5);
    }
    return data;
  }

  private onFrame(text: string, start: number, end: number): void {
    if (this.protocol === 'openai-responses') this.onResponsesFrame(text, start, end);
    else if (this.protocol === 'anthropic-messages') this.onAnthropicFrame(text, start, end);
    else this.onChatFrame(text.slice(start, end));
  }

  /** The frame's `event:` name, or for servers that omit it, the `type` at the data's head. */
  private static eventName(text: string, start: number, end: number): string {
    if (text.startsWith('event:', start)) {
      const lineEnd = text.indexOf('\n', start);
      return text.slice(start + 6, lineEnd === -1 || lineEnd > end ? end : lineEnd).trim();
    }
    const typeAt = indexWithin(text, '"type":"', start, end);
    return typeAt === -1 ? '' : text.slice(typeAt + 8, text.indexOf('"', typeAt + 8));
  }

  /**
   * Anthropic Messages: usage from `message_start` and the cumulative `message_delta`, tool calls
   * from `tool_use` block starts and their `input_json_delta`s, the end from `message_stop`.
   * Text and thinking deltas (nearly every frame) are only counted.
   */
  private onAnthropicFrame(text: string, start: number, end: number): void {
    const name = SseSideReader.eventName(text, start, end);
    if (name === 'message_stop') {
      this.completed = true;
      return;
    }
    const isDelta = name === 'content_block_delta';
    if (isDelta) this.deltaFrames++;
    const toolInput = isDelta && this.chatToolCalls.size > 0 && indexWithin(text, '"input_json_delta"', start, end) !== -1;
    if (!toolInput && !ANTHROPIC_PARSED_EVENTS.has(name)) return;
    const frame = text.slice(start, end);
    if (name === 'content_block_start' && !frame.includes('"tool_use"')) return;
    let event: { type?: string; index?: number; message?: { model?: string; usage?: AnthropicUsage }; usage?: AnthropicUsage; content_block?: { type?: string; id?: string; name?: string }; delta?: { partial_json?: string }; error?: { type?: string; message?: string } };
    try {
      event = JSON.parse(SseSideReader.dataOf(frame)) as typeof event;
    } catch {
      return;
    }
    if (event.type === 'message_start') {
      this.anthropicUsage = event.message?.usage;
      this.usage = usageFromAnthropic(this.anthropicUsage);
      this.model = event.message?.model;
    } else if (event.type === 'message_delta' && event.usage) {
      this.anthropicUsage = mergeAnthropicUsage(this.anthropicUsage, event.usage);
      this.usage = usageFromAnthropic(this.anthropicUsage);
    } else if (event.type === 'content_block_start' && event.content_block?.type === 'tool_use' && typeof event.index === 'number') {
      this.chatToolCalls.set(event.index, { callId: event.content_block.id ?? '', name: event.content_block.name ?? '', kind: 'function', input: '' });
    } else if (event.type === 'content_block_delta' && typeof event.index === 'number') {
      const call = this.chatToolCalls.get(event.index);
      if (call && typeof event.delta?.partial_json === 'string') call.input += event.delta.partial_json;
    } else if (event.type === 'error') {
      this.completed = true;
      this.failed = { code: event.error?.type ?? 'upstream_error', message: event.error?.message ?? 'upstream error event' };
    }
  }

  /**
   * Only frames that carry usage, the final output or an error are sliced and parsed; the rest are
   * told apart by their `event:` name (or, for servers that omit it, the type at the data's head).
   */
  private onResponsesFrame(text: string, start: number, end: number): void {
    const name = SseSideReader.eventName(text, start, end);
    if (name.endsWith('.delta')) this.deltaFrames++;
    if (!RESPONSES_PARSED_EVENTS.has(name)) return;
    const frame = text.slice(start, end);
    let event: { type?: string; response?: Record<string, unknown>; code?: string; message?: string };
    try {
      event = JSON.parse(SseSideReader.dataOf(frame)) as typeof event;
    } catch {
      return;
    }
    if (event.type === 'error') {
      this.completed = true;
      this.failed = { code: event.code ?? 'upstream_error', message: event.message ?? 'upstream error event' };
      return;
    }
    if (!event.type || !RESPONSES_FINAL_EVENTS.includes(event.type) || !event.response) return;
    this.completed = true;
    const response = event.response;
    this.usage = usageFromResponses(response.usage as never);
    this.toolCalls = toolCallsFromResponsesOutput(response.output);
    this.model = typeof response.model === 'string' ? response.model : undefined;
    if (event.type === 'response.failed') {
      const error = response.error as { code?: string; message?: string } | undefined;
      this.failed = { code: error?.code ?? 'upstream_error', message: error?.message ?? 'response.failed' };
    }
  }

  private onChatFrame(frame: string): void {
    const data = SseSideReader.dataOf(frame);
    if (data.includes('"delta"')) this.deltaFrames++;
    if (data === '[DONE]') {
      this.completed = true;
      return;
    }
    const hasUsage = data.includes('"usage"');
    const hasTools = data.includes('"tool_calls"');
    const hasError = data.startsWith('{"error"');
    if (!hasUsage && !hasTools && !hasError) return;
    let chunk: {
      model?: string;
      usage?: unknown;
      error?: { code?: string; message?: string };
      choices?: { delta?: { tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] } }[];
    };
    try {
      chunk = JSON.parse(data) as typeof chunk;
    } catch {
      return;
    }
    if (chunk.error) this.failed = { code: chunk.error.code ?? 'upstream_error', message: chunk.error.message ?? 'upstream error' };
    if (chunk.usage) this.usage = usageFromChat(chunk.usage as never);
    if (chunk.model) this.model = chunk.model;
    for (const delta of chunk.choices?.[0]?.delta?.tool_calls ?? []) {
      let call = this.chatToolCalls.get(delta.index);
      if (!call) this.chatToolCalls.set(delta.index, (call = { callId: delta.id ?? '', name: '', kind: 'function', input: '' }));
      if (delta.id) call.callId = delta.id;
      if (delta.function?.name) call.name += delta.function.name;
      if (delta.function?.arguments) call.input += delta.function.arguments;
    }
  }
}

/**
 * Position of `needle` within text[start, end), or -1. The chunk may hold many frames: a search that
 * ran on to the chunk's end for every frame would cost frames × chunk size (the slice does not copy).
 */
function indexWithin(text: string, needle: string, start: number, end: number): number {
  const at = text.slice(start, end).indexOf(needle);
  return at === -1 ? -1 : start + at;
}
