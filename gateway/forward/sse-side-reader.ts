import type { NormalizedUsage, OutputToolCall } from '../../shared/telemetry/turn-record.ts';
import { toolCallsFromResponsesOutput, usageFromChat, usageFromResponses } from './read-openai-usage.ts';

import { StringDecoder } from 'node:string_decoder';

const RESPONSES_FINAL_EVENTS = ['response.completed', 'response.failed', 'response.incomplete'];
const RESPONSES_PARSED_EVENTS = new Set([...RESPONSES_FINAL_EVENTS, 'error']);

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
  private readonly protocol: 'openai-responses' | 'openai-chat';
  private readonly chatToolCalls = new Map<number, OutputToolCall>();

  constructor(protocol: 'openai-responses' | 'openai-chat') {
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
    if (this.protocol === 'openai-chat') this.toolCalls = [...this.chatToolCalls.values()];
    // Cut short (client gone, upstream died): no final usage, but what was generated was billed.
    // Output is estimated from the deltas seen; input is left 0 for the caller to estimate.
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
    else this.onChatFrame(text.slice(start, end));
  }

  /**
   * Only frames that carry usage, the final output or an error are sliced and parsed; the rest are
   * told apart by their `event:` name (or, for servers that omit it, the type at the data's head).
   */
  private onResponsesFrame(text: string, start: number, end: number): void {
    let name: string;
    if (text.startsWith('event:', start)) {
      const lineEnd = text.indexOf('\n', start);
      name = text.slice(start + 6, lineEnd === -1 || lineEnd > end ? end : lineEnd).trim();
    } else {
      const typeAt = text.indexOf('"type":"', start);
      name = typeAt === -1 || typeAt > end ? '' : text.slice(typeAt + 8, text.indexOf('"', typeAt + 8));
    }
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
