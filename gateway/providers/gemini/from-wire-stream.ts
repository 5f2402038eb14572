import type { CanonicalEvent } from '../../canonical/event.ts';
import { collectResponse, type CanonicalResponse } from '../../canonical/response.ts';
import type { WireEvent } from '../provider-adapter.ts';
import { guardStream } from '../stream-guard.ts';
import { asRecord, asString, parseEventData, readWireEvent, type UnreadableEventHandler } from '../wire-json.ts';
import { mapGeminiFinishReason } from './map-finish-reason.ts';
import { mapGeminiUsage } from './map-usage.ts';
import { GEMINI_CALL_ID_PREFIX, GeminiChunkSchema, type GeminiChunk, type GeminiUsage } from './wire-schema.ts';

/**
 * Gemini `alt=sse` chunks → canonical events. Function calls arrive whole; without an id one is
 * made up (`call_<responseId>_<n>`). Usage is a running total: the last chunk's wins. A stream
 * that closes without a `finishReason` is truncated.
 */
export function fromGeminiStream(events: AsyncIterable<WireEvent>, onUnreadable?: UnreadableEventHandler): AsyncIterable<CanonicalEvent> {
  return guardStream('gemini', parse(events, onUnreadable));
}

interface ParseState {
  responseId: string | undefined;
  metadataSent: boolean;
  openText: 'text' | 'reasoning' | undefined;
  blockCount: number;
  callCount: number;
  hasToolCalls: boolean;
  finishReason: string | undefined;
  usage: GeminiUsage | undefined;
}

async function* parse(events: AsyncIterable<WireEvent>, onUnreadable: UnreadableEventHandler | undefined): AsyncIterable<CanonicalEvent> {
  const state: ParseState = { responseId: undefined, metadataSent: false, openText: undefined, blockCount: 0, callCount: 0, hasToolCalls: false, finishReason: undefined, usage: undefined };
  for await (const wire of events) {
    const data = parseEventData(wire.data, onUnreadable);
    if (data === undefined) continue;
    const chunk = readWireEvent(GeminiChunkSchema, data, wire.data, onUnreadable);
    if (chunk === undefined) continue;
    if (chunk.error !== undefined) {
      const error = asRecord(chunk.error);
      const status = asString(error['status']);
      yield { type: 'error', code: status === 'RESOURCE_EXHAUSTED' ? 'upstream_rate_limited' : 'upstream_error', message: `gatehouse: upstream gemini failed mid-stream: ${asString(error['message']) ?? status ?? 'error'}`, retryable: status !== 'INVALID_ARGUMENT', upstreamType: status };
      return;
    }
    yield* chunkEvents(chunk, state);
  }
  yield* closeText(state);
  if (state.finishReason === undefined) return;
  if (state.usage !== undefined) yield { type: 'usage', usage: mapGeminiUsage(state.usage) };
  yield { type: 'finish', reason: mapGeminiFinishReason(state.finishReason, state.hasToolCalls) };
}

function* closeText(state: ParseState): Generator<CanonicalEvent> {
  if (state.openText === 'text') yield { type: 'text-end', id: `block_${state.blockCount}` };
  if (state.openText === 'reasoning') yield { type: 'reasoning-end', id: `block_${state.blockCount}` };
  state.openText = undefined;
}

function* chunkEvents(chunk: GeminiChunk, state: ParseState): Generator<CanonicalEvent> {
  if (!state.metadataSent) {
    state.metadataSent = true;
    state.responseId = chunk.responseId ?? undefined;
    yield { type: 'response-metadata', id: state.responseId, model: chunk.modelVersion ?? undefined };
  }
  if (chunk.usageMetadata !== undefined) state.usage = chunk.usageMetadata as GeminiUsage;
  if (chunk.promptFeedback?.blockReason != null) state.finishReason = 'SAFETY';
  const candidate = chunk.candidates?.[0];
  // Parts are handled inline, not by a generator per part: this runs for every chunk of a stream.
  for (const part of candidate?.content?.parts ?? []) {
    if (part.thoughtSignature !== undefined) {
      // Signatures only mean something to Gemini: carried as an opaque reasoning item.
      yield* closeText(state);
      state.blockCount++;
      const id = `block_${state.blockCount}`;
      yield { type: 'reasoning-start', id };
      yield { type: 'reasoning-end', id, opaque: { family: 'gemini', kind: 'thought_signature', value: part.thoughtSignature } };
    }
    const text = part.text;
    // Final chunks often carry an empty text part next to finishReason: nothing to open.
    if (text !== undefined && text !== '') {
      const kind = part.thought === true ? 'reasoning' : 'text';
      if (state.openText !== kind) {
        yield* closeText(state);
        state.blockCount++;
        state.openText = kind;
        yield { type: kind === 'text' ? 'text-start' : 'reasoning-start', id: `block_${state.blockCount}` };
      }
      yield { type: kind === 'text' ? 'text-delta' : 'reasoning-delta', id: `block_${state.blockCount}`, delta: text };
    }
    if (part.functionCall !== undefined) yield* functionCallEvents(part.functionCall, state);
  }
  const finish = candidate?.finishReason;
  if (finish != null) state.finishReason = finish;
}

type GeminiFunctionCall = NonNullable<NonNullable<NonNullable<NonNullable<GeminiChunk['candidates']>[number]['content']>['parts']>[number]['functionCall']>;

/** Function calls arrive whole: start, one delta, end. */
function* functionCallEvents(call: GeminiFunctionCall, state: ParseState): Generator<CanonicalEvent> {
  yield* closeText(state);
  state.blockCount++;
  state.hasToolCalls = true;
  const id = `block_${state.blockCount}`;
  // Gemini's own ids get a prefix so they can be recognised and returned on the way back.
  const geminiId = call.id ?? undefined;
  const callId = geminiId !== undefined ? `${GEMINI_CALL_ID_PREFIX}${geminiId}` : `call_${state.responseId ?? 'gemini'}_${state.callCount}`;
  state.callCount++;
  const input = JSON.stringify(call.args ?? {});
  yield { type: 'tool-call-start', id, callId, name: call.name, kind: 'function' };
  yield { type: 'tool-call-delta', id, delta: input };
  yield { type: 'tool-call-end', id, input };
}

/** Non-streaming generateContent body → canonical response. */
export function fromGeminiBody(body: unknown): CanonicalResponse {
  const state: ParseState = { responseId: undefined, metadataSent: false, openText: undefined, blockCount: 0, callCount: 0, hasToolCalls: false, finishReason: undefined, usage: undefined };
  // A body of the wrong shape reads as an empty answer, as a chunk would have been skipped.
  const parsed = GeminiChunkSchema.safeParse(asRecord(body));
  const events: CanonicalEvent[] = [...chunkEvents(parsed.success ? parsed.data : {}, state), ...closeText(state)];
  if (state.usage !== undefined) events.push({ type: 'usage', usage: mapGeminiUsage(state.usage) });
  events.push({ type: 'finish', reason: mapGeminiFinishReason(state.finishReason, state.hasToolCalls) });
  return collectResponse(events);
}
