import { sse, type TurnReply } from './fake-server.ts';
import { argumentsText, chunks, functionCallsOf, usageOf, type RecordedRequest, type ScriptedTurn } from './scripted-turn.ts';

/** Chat Completions: `POST /v1/chat/completions`, data-only SSE ending in `[DONE]`. */
export function renderOpenAIChatTurn(turn: ScriptedTurn, request: RecordedRequest): TurnReply {
  if (turn.error !== undefined) {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (turn.error.retryAfter !== undefined) headers['retry-after'] = turn.error.retryAfter;
    return { status: turn.error.status, headers, frames: [JSON.stringify({ error: { message: turn.error.message ?? 'fake error', type: turn.error.type ?? 'server_error', param: null, code: turn.error.code ?? null } })] };
  }
  const size = turn.chunkSize ?? 4;
  const usage = usageOf(turn);
  const model = String(request.body?.['model'] ?? 'fake-chat');
  const calls = functionCallsOf(turn);
  const base = { id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 1_700_000_000, model, system_fingerprint: 'fp_fake' };
  const frames: string[] = [];
  const chunk = (delta: Record<string, unknown>, finish: string | null = null): void => void frames.push(sse(undefined, { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] }));
  chunk({ role: 'assistant', content: '', refusal: null });
  if (turn.reasoning !== undefined) for (const piece of chunks(turn.reasoning.text, size)) chunk({ reasoning_content: piece });
  for (const piece of chunks(turn.text ?? '', size)) chunk({ content: piece });
  calls.forEach((call, index) => {
    chunk({ tool_calls: [{ index, id: call.id ?? `call_fake_${index}`, type: 'function', function: { name: call.name, arguments: '' } }] });
    for (const piece of chunks(argumentsText(call), size)) chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
  });
  if (turn.midStreamError !== undefined) {
    frames.splice(2);
    frames.push(sse(undefined, { error: { message: turn.midStreamError.message ?? 'upstream failure', type: turn.midStreamError.type ?? 'server_error', code: null } }));
  } else if (!turn.truncate) {
    chunk({}, turn.finish === 'length' ? 'length' : calls.length > 0 ? 'tool_calls' : 'stop');
    const usageBody = { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output, prompt_tokens_details: { cached_tokens: usage.cached }, completion_tokens_details: { reasoning_tokens: usage.reasoning } };
    const options = (request.body?.['stream_options'] ?? {}) as Record<string, unknown>;
    if (options['include_usage'] === true) frames.push(sse(undefined, { ...base, choices: [], usage: usageBody }));
    frames.push('data: [DONE]\n\n');
  }
  if (request.body?.['stream'] !== true) {
    const body = {
      id: 'chatcmpl-fake',
      object: 'chat.completion',
      created: 1_700_000_000,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: turn.text ?? null, refusal: null, ...(calls.length > 0 ? { tool_calls: calls.map((call, index) => ({ id: call.id ?? `call_fake_${index}`, type: 'function', function: { name: call.name, arguments: argumentsText(call) } })) } : {}) }, logprobs: null, finish_reason: calls.length > 0 ? 'tool_calls' : 'stop' }],
      usage: { prompt_tokens: usage.input, completion_tokens: usage.output, total_tokens: usage.input + usage.output, prompt_tokens_details: { cached_tokens: usage.cached } },
    };
    return { status: 200, headers: { 'content-type': 'application/json' }, frames: [JSON.stringify(body)] };
  }
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, frames };
}
