import { sse, type TurnReply } from './fake-server.ts';
import { argumentsText, chunks, functionCallsOf, usageOf, type RecordedRequest, type ScriptedTurn } from './scripted-turn.ts';

let messageSequence = 0;

/** Anthropic Messages: `POST /v1/messages`, `event:` on every frame, cumulative usage in `message_delta`. */
export function renderAnthropicTurn(turn: ScriptedTurn, request: RecordedRequest): TurnReply {
  if (turn.error !== undefined) {
    const type = turn.error.type ?? (turn.error.status === 429 ? 'rate_limit_error' : turn.error.status === 529 ? 'overloaded_error' : 'api_error');
    const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': 'req_fake' };
    if (turn.error.retryAfter !== undefined) headers['retry-after'] = turn.error.retryAfter;
    return { status: turn.error.status, headers, frames: [JSON.stringify({ type: 'error', error: { type, message: turn.error.message ?? 'fake error' }, request_id: 'req_fake' })] };
  }
  const size = turn.chunkSize ?? 4;
  const usage = usageOf(turn);
  // Anthropic counts input WITHOUT cache reads and writes.
  const wireUsage = { input_tokens: usage.input - usage.cached - usage.cacheWrite, cache_creation_input_tokens: usage.cacheWrite, cache_read_input_tokens: usage.cached };
  const model = String(request.body?.['model'] ?? 'claude-fake');
  // Each answer has its own id, as on the real API: Claude Code merges assistant messages that share one.
  const messageId = `msg_fake_${++messageSequence}`;
  const calls = functionCallsOf(turn);
  const content: Record<string, unknown>[] = [];
  const frames: string[] = [];
  const event = (type: string, payload: Record<string, unknown>): void => void frames.push(sse(type, { type, ...payload }));
  event('message_start', { message: { id: messageId, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...wireUsage, output_tokens: 1 } } });
  event('ping', {});
  let index = 0;
  if (turn.reasoning !== undefined) {
    const signature = turn.reasoning.signature ?? 'sig_fake';
    event('content_block_start', { index, content_block: { type: 'thinking', thinking: '', signature: '' } });
    for (const piece of chunks(turn.reasoning.text, size)) event('content_block_delta', { index, delta: { type: 'thinking_delta', thinking: piece } });
    event('content_block_delta', { index, delta: { type: 'signature_delta', signature } });
    event('content_block_stop', { index });
    content.push({ type: 'thinking', thinking: turn.reasoning.text, signature });
    index++;
  }
  if (turn.text !== undefined) {
    event('content_block_start', { index, content_block: { type: 'text', text: '' } });
    for (const piece of chunks(turn.text, size)) event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
    event('content_block_stop', { index });
    content.push({ type: 'text', text: turn.text });
    index++;
  }
  calls.forEach((call, callIndex) => {
    const id = call.id ?? `toolu_fake_${callIndex}`;
    event('content_block_start', { index, content_block: { type: 'tool_use', id, name: call.name, input: {}, caller: { type: 'direct' } } });
    for (const piece of chunks(argumentsText(call), size)) event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: piece } });
    event('content_block_stop', { index });
    content.push({ type: 'tool_use', id, name: call.name, input: JSON.parse(argumentsText(call)) as unknown, caller: { type: 'direct' } });
    index++;
  });
  const stopReason = turn.finish === 'length' ? 'max_tokens' : calls.length > 0 ? 'tool_use' : 'end_turn';
  if (turn.midStreamError !== undefined) {
    frames.splice(4);
    event('error', { error: { type: turn.midStreamError.type ?? 'overloaded_error', message: turn.midStreamError.message ?? 'Overloaded' } });
  } else if (!turn.truncate) {
    event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null, stop_details: null }, usage: { ...wireUsage, output_tokens: usage.output } });
    event('message_stop', {});
  }
  if (request.body?.['stream'] !== true) {
    const body = { id: messageId, type: 'message', role: 'assistant', model, content, stop_reason: stopReason, stop_sequence: null, usage: { ...wireUsage, output_tokens: usage.output } };
    return { status: 200, headers: { 'content-type': 'application/json' }, frames: [JSON.stringify(body)] };
  }
  return { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' }, frames };
}
