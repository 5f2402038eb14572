import { sse, type TurnReply } from './fake-server.ts';
import { argumentsText, chunks, usageOf, type RecordedRequest, type ScriptedTurn } from './scripted-turn.ts';

/** OpenAI Responses API: `POST /v1/responses`, named SSE events, no `[DONE]`. */
export function renderOpenAIResponsesTurn(turn: ScriptedTurn, request: RecordedRequest): TurnReply {
  if (turn.error !== undefined) {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': 'req_fake' };
    if (turn.error.retryAfter !== undefined) headers['retry-after'] = turn.error.retryAfter;
    const body = { error: { message: turn.error.message ?? 'fake error', type: turn.error.type ?? (turn.error.status === 429 ? 'rate_limit_error' : 'server_error'), param: null, code: turn.error.code ?? null } };
    return { status: turn.error.status, headers, frames: [JSON.stringify(body)] };
  }
  const size = turn.chunkSize ?? 4;
  const usage = usageOf(turn);
  const model = String(request.body?.['model'] ?? 'gpt-fake');
  const output: Record<string, unknown>[] = [];
  const frames: string[] = [];
  let sequence = 0;
  const event = (type: string, payload: Record<string, unknown>): void => void frames.push(sse(type, { type, sequence_number: sequence++, ...payload }));
  const response = (status: string): Record<string, unknown> => ({ id: 'resp_fake', object: 'response', created_at: 1_700_000_000, status, error: null, incomplete_details: null, model, output, usage: null, parallel_tool_calls: true, tools: [], tool_choice: 'auto', store: false });
  event('response.created', { response: response('in_progress') });
  event('response.in_progress', { response: response('in_progress') });
  let firstOutputFrame = -1;
  const markOutput = (): void => void (firstOutputFrame < 0 && (firstOutputFrame = frames.length));
  if (turn.reasoning !== undefined) {
    const index = output.length;
    const item = { id: `rs_${index}`, type: 'reasoning', summary: [] as unknown[] };
    event('response.output_item.added', { output_index: index, item });
    event('response.reasoning_summary_part.added', { item_id: item.id, output_index: index, summary_index: 0, part: { type: 'summary_text', text: '' } });
    for (const piece of chunks(turn.reasoning.text, size)) event('response.reasoning_summary_text.delta', { item_id: item.id, output_index: index, summary_index: 0, delta: piece, obfuscation: 'xx' });
    markOutput();
    event('response.reasoning_summary_text.done', { item_id: item.id, output_index: index, summary_index: 0, text: turn.reasoning.text });
    const done = { ...item, summary: [{ type: 'summary_text', text: turn.reasoning.text }], encrypted_content: turn.reasoning.signature ?? 'gAAAA_fake_encrypted' };
    output.push(done);
    event('response.output_item.done', { output_index: index, item: done });
  }
  if (turn.text !== undefined) {
    const index = output.length;
    const item = { id: `msg_${index}`, type: 'message', status: 'in_progress', role: 'assistant', content: [] as unknown[] };
    event('response.output_item.added', { output_index: index, item });
    event('response.content_part.added', { item_id: item.id, output_index: index, content_index: 0, part: { type: 'output_text', text: '', annotations: [] } });
    for (const piece of chunks(turn.text, size)) {
      event('response.output_text.delta', { item_id: item.id, output_index: index, content_index: 0, delta: piece, logprobs: [], obfuscation: 'pad' });
      markOutput();
    }
    const part = { type: 'output_text', text: turn.text, annotations: [] };
    event('response.output_text.done', { item_id: item.id, output_index: index, content_index: 0, text: turn.text, logprobs: [] });
    event('response.content_part.done', { item_id: item.id, output_index: index, content_index: 0, part });
    const done = { ...item, status: 'completed', content: [part] };
    output.push(done);
    event('response.output_item.done', { output_index: index, item: done });
  }
  (turn.toolCalls ?? []).forEach((call, callIndex) => {
    const index = output.length;
    const args = argumentsText(call);
    const item = { id: `fc_${index}`, type: 'function_call', status: 'in_progress', arguments: '', call_id: call.id ?? `call_fake_${callIndex}`, name: call.name };
    event('response.output_item.added', { output_index: index, item });
    for (const piece of chunks(args, size)) event('response.function_call_arguments.delta', { item_id: item.id, output_index: index, delta: piece });
    markOutput();
    event('response.function_call_arguments.done', { item_id: item.id, output_index: index, name: call.name, arguments: args });
    const done = { ...item, status: 'completed', arguments: args };
    output.push(done);
    event('response.output_item.done', { output_index: index, item: done });
  });
  (turn.customToolCalls ?? []).forEach((call, callIndex) => {
    const index = output.length;
    const item = { id: `ctc_${index}`, type: 'custom_tool_call', status: 'in_progress', call_id: call.id ?? `call_custom_${callIndex}`, name: call.name, input: '' };
    event('response.output_item.added', { output_index: index, item });
    for (const piece of chunks(call.input, size)) event('response.custom_tool_call_input.delta', { item_id: item.id, output_index: index, delta: piece });
    markOutput();
    event('response.custom_tool_call_input.done', { item_id: item.id, output_index: index, input: call.input });
    const done = { ...item, status: 'completed', input: call.input };
    output.push(done);
    event('response.output_item.done', { output_index: index, item: done });
  });
  if (turn.midStreamError !== undefined) {
    frames.splice(Math.max(firstOutputFrame, 2) + 1);
    const failed = { ...response('failed'), error: { code: turn.midStreamError.type ?? 'server_error', message: turn.midStreamError.message ?? 'upstream failure' } };
    event('response.failed', { response: failed });
  } else if (!turn.truncate) {
    const usageBody = {
      input_tokens: usage.input,
      input_tokens_details: { cached_tokens: usage.cached },
      output_tokens: usage.output,
      output_tokens_details: { reasoning_tokens: usage.reasoning },
      total_tokens: usage.input + usage.output,
    };
    const final = { ...response(turn.finish === 'length' ? 'incomplete' : 'completed'), usage: usageBody, ...(turn.finish === 'length' ? { incomplete_details: { reason: 'max_output_tokens' } } : {}) };
    event(turn.finish === 'length' ? 'response.incomplete' : 'response.completed', { response: final });
  }
  if (request.body?.['stream'] !== true) {
    const last = frames.at(-1) ?? '';
    const data = JSON.parse(last.slice(last.indexOf('data: ') + 6)) as { response: unknown };
    return { status: 200, headers: { 'content-type': 'application/json' }, frames: [JSON.stringify(data.response)] };
  }
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, frames };
}
