import { describe, expect, it } from 'vitest';
import { fromChatStream } from '../../../../gateway/providers/openai-chat/from-wire-stream.ts';
import type { CanonicalEvent } from '../../../../gateway/canonical/event.ts';

async function collect(chunks: unknown[]): Promise<CanonicalEvent[]> {
  async function* wire() {
    for (const chunk of chunks) yield { type: undefined, data: typeof chunk === 'string' ? chunk : JSON.stringify(chunk) };
  }
  const out: CanonicalEvent[] = [];
  for await (const event of fromChatStream(wire())) out.push(event);
  return out;
}

// Chunks are read with lenient schemas: a field of the wrong type reads as absent, the rest of the chunk is kept.
describe('openai-chat chunks with fields of the wrong type', () => {
  it('keep what they can: text, the finish and the usage', async () => {
    const events = await collect([
      { id: 42, model: ['m'], choices: [{ delta: { content: 'Hello', tool_calls: 'oops', reasoning_content: 7 }, finish_reason: 3 }, 'not a choice'] },
      { choices: [{ delta: null, finish_reason: 'stop' }], usage: { prompt_tokens: 'ten', completion_tokens: 2, prompt_tokens_details: 'none' } },
      '[DONE]',
    ]);
    expect(events).toEqual([
      { type: 'response-metadata', id: undefined, model: undefined },
      { type: 'text-start', id: 'text_0' },
      { type: 'text-delta', id: 'text_0', delta: 'Hello' },
      { type: 'text-end', id: 'text_0' },
      { type: 'usage', usage: expect.objectContaining({ inputTokens: 0, outputTokens: 2, cachedInputTokens: 0 }) },
      { type: 'finish', reason: { raw: 'stop', unified: 'stop' } },
    ]);
  });
});
