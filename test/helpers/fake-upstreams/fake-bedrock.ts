import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';
import type { TurnReply } from './fake-server.ts';
import { argumentsText, chunks, functionCallsOf, usageOf, type RecordedRequest, type ScriptedTurn } from './scripted-turn.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

/** One ConverseStream event in the AWS event-stream framing (tests insert their own). */
export function eventFrame(type: string, payload: Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: { ':event-type': { type: 'string', value: type }, ':content-type': { type: 'string', value: 'application/json' }, ':message-type': { type: 'string', value: 'event' } },
    body: fromUtf8(JSON.stringify({ ...payload, p: 'abcdefgh' })),
  });
}

function exceptionFrame(type: string, message: string): Uint8Array {
  return codec.encode({
    headers: { ':exception-type': { type: 'string', value: type }, ':content-type': { type: 'string', value: 'application/json' }, ':message-type': { type: 'string', value: 'exception' } },
    body: fromUtf8(JSON.stringify({ message })),
  });
}

/**
 * Bedrock Converse: `POST /model/{modelId}/converse-stream` answered with the AWS binary event
 * stream (CRC-checked frames), or `/converse` with JSON. HTTP errors carry `x-amzn-errortype`.
 */
export function renderBedrockTurn(turn: ScriptedTurn, request: RecordedRequest): TurnReply {
  if (turn.error !== undefined) {
    const type = turn.error.type ?? (turn.error.status === 429 ? 'ThrottlingException' : turn.error.status === 503 ? 'ServiceUnavailableException' : 'InternalServerException');
    return { status: turn.error.status, headers: { 'content-type': 'application/json', 'x-amzn-errortype': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, 'x-amzn-requestid': 'fake' }, frames: [JSON.stringify({ message: turn.error.message ?? 'fake error' })] };
  }
  const size = turn.chunkSize ?? 4;
  const usage = usageOf(turn);
  const calls = functionCallsOf(turn);
  const frames: Uint8Array[] = [eventFrame('messageStart', { role: 'assistant' })];
  const content: Record<string, unknown>[] = [];
  let index = 0;
  if (turn.reasoning !== undefined) {
    for (const piece of chunks(turn.reasoning.text, size)) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { reasoningContent: { text: piece } } }));
    frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { reasoningContent: { signature: turn.reasoning.signature ?? 'sig_bedrock_fake' } } }));
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index }));
    content.push({ reasoningContent: { reasoningText: { text: turn.reasoning.text, signature: turn.reasoning.signature ?? 'sig_bedrock_fake' } } });
    index++;
  }
  if (turn.text !== undefined) {
    for (const piece of chunks(turn.text, size)) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { text: piece } }));
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index }));
    content.push({ text: turn.text });
    index++;
  }
  calls.forEach((call, callIndex) => {
    const toolUseId = call.id ?? `tooluse_fake_${callIndex}`;
    frames.push(eventFrame('contentBlockStart', { contentBlockIndex: index, start: { toolUse: { toolUseId, name: call.name } } }));
    for (const piece of chunks(argumentsText(call), size)) frames.push(eventFrame('contentBlockDelta', { contentBlockIndex: index, delta: { toolUse: { input: piece } } }));
    frames.push(eventFrame('contentBlockStop', { contentBlockIndex: index }));
    content.push({ toolUse: { toolUseId, name: call.name, input: JSON.parse(argumentsText(call)) as unknown } });
    index++;
  });
  const stopReason = turn.finish === 'length' ? 'max_tokens' : calls.length > 0 ? 'tool_use' : 'end_turn';
  // Converse inputTokens exclude cache reads and writes.
  const wireUsage = { inputTokens: usage.input - usage.cached - usage.cacheWrite, outputTokens: usage.output, totalTokens: usage.input + usage.output, cacheReadInputTokens: usage.cached, cacheWriteInputTokens: usage.cacheWrite };
  if (turn.midStreamError !== undefined) {
    frames.splice(2);
    frames.push(exceptionFrame(turn.midStreamError.type ?? 'modelStreamErrorException', turn.midStreamError.message ?? 'model stream failed'));
  } else if (!turn.truncate) {
    frames.push(eventFrame('messageStop', { stopReason }));
    frames.push(eventFrame('metadata', { usage: wireUsage, metrics: { latencyMs: 42 } }));
  }
  if (!request.url.endsWith('/converse-stream')) {
    const body = { output: { message: { role: 'assistant', content } }, stopReason, usage: wireUsage, metrics: { latencyMs: 42 } };
    return { status: 200, headers: { 'content-type': 'application/json' }, frames: [JSON.stringify(body)] };
  }
  return { status: 200, headers: { 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': 'fake' }, frames };
}
