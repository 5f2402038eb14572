import { sse, type TurnReply } from './fake-server.ts';
import { argumentsText, chunks, functionCallsOf, usageOf, type RecordedRequest, type ScriptedTurn } from './scripted-turn.ts';

/**
 * Gemini: `POST /v1beta/models/{model}:streamGenerateContent?alt=sse` (frames end `\r\n\r\n`) or
 * `:generateContent`. Function calls have no id (2.5 behaviour) and finish with `STOP`; every
 * chunk carries the running `usageMetadata`.
 */
export function renderGeminiTurn(turn: ScriptedTurn, request: RecordedRequest): TurnReply {
  if (turn.error !== undefined) {
    const status = turn.error.type ?? (turn.error.status === 429 ? 'RESOURCE_EXHAUSTED' : turn.error.status === 503 ? 'UNAVAILABLE' : 'INTERNAL');
    return { status: turn.error.status, headers: { 'content-type': 'application/json; charset=UTF-8' }, frames: [JSON.stringify({ error: { code: turn.error.status, message: turn.error.message ?? 'fake error', status } })] };
  }
  const size = turn.chunkSize ?? 4;
  const usage = usageOf(turn);
  const model = /models\/([^:]+):/.exec(request.url)?.[1] ?? 'gemini-fake';
  const calls = functionCallsOf(turn);
  const usageMetadata = (output: number): Record<string, unknown> => ({
    promptTokenCount: usage.input,
    ...(usage.cached > 0 ? { cachedContentTokenCount: usage.cached } : {}),
    candidatesTokenCount: output,
    ...(usage.reasoning > 0 ? { thoughtsTokenCount: usage.reasoning } : {}),
    totalTokenCount: usage.input + output + usage.reasoning,
  });
  const bodies: Record<string, unknown>[] = [];
  const chunk = (parts: Record<string, unknown>[], finishReason?: string): void =>
    void bodies.push({ candidates: [{ content: { parts, role: 'model' }, ...(finishReason !== undefined ? { finishReason } : {}), index: 0 }], usageMetadata: usageMetadata(finishReason !== undefined ? usage.output - usage.reasoning : 1), modelVersion: model, responseId: 'fake-response-id' });
  if (turn.reasoning !== undefined) for (const piece of chunks(turn.reasoning.text, size)) chunk([{ text: piece, thought: true }]);
  for (const piece of chunks(turn.text ?? '', size)) chunk([{ text: piece }]);
  if (calls.length > 0) {
    const signature = turn.reasoning?.signature;
    chunk(calls.map((call, index) => ({ functionCall: { name: call.name, args: JSON.parse(argumentsText(call)) as unknown, ...(call.id !== undefined ? { id: call.id } : {}) }, ...(index === 0 && signature !== undefined ? { thoughtSignature: signature } : {}) })));
  }
  if (turn.midStreamError !== undefined) {
    bodies.splice(1);
    bodies.push({ error: { code: 503, message: turn.midStreamError.message ?? 'The model is overloaded.', status: turn.midStreamError.type ?? 'UNAVAILABLE' } });
  } else if (!turn.truncate) {
    chunk([{ text: '' }], turn.finish === 'length' ? 'MAX_TOKENS' : 'STOP');
  }
  if (!request.url.includes('streamGenerateContent')) {
    const parts = bodies.flatMap((body) => ((body['candidates'] as { content: { parts: Record<string, unknown>[] } }[] | undefined)?.[0]?.content.parts ?? []).filter((part) => part['text'] !== ''));
    const merged = { candidates: [{ content: { parts, role: 'model' }, finishReason: turn.finish === 'length' ? 'MAX_TOKENS' : 'STOP', index: 0 }], usageMetadata: usageMetadata(usage.output - usage.reasoning), modelVersion: model, responseId: 'fake-response-id' };
    return { status: 200, headers: { 'content-type': 'application/json; charset=UTF-8' }, frames: [JSON.stringify(merged)] };
  }
  return { status: 200, headers: { 'content-type': 'text/event-stream' }, frames: bodies.map((body) => sse(undefined, body, '\r\n')) };
}
