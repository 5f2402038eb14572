import { describe, expect, it } from 'vitest';
import { SseSideReader } from '../../gateway/forward/sse-side-reader.ts';

const completed = {
  type: 'response.completed',
  response: { model: 'gpt-5.5', output: [{ type: 'message', content: [{ type: 'output_text', text: 'héllo wörld ✓' }] }, { type: 'function_call', call_id: 'c1', name: 'exec_command', arguments: '{"cmd":"ls"}' }], usage: { input_tokens: 10, input_tokens_details: { cached_tokens: 4 }, output_tokens: 3, output_tokens_details: { reasoning_tokens: 1 } } },
};
const stream = (eventLines: boolean, lineEnd = '\n') =>
  [
    { type: 'response.created', response: {} },
    { type: 'response.output_text.delta', delta: 'héllo' },
    { type: 'response.output_text.delta', delta: ' wörld ✓' },
    completed,
  ]
    .map((event) => `${eventLines ? `event: ${event.type}${lineEnd}` : ''}data: ${JSON.stringify(event)}${lineEnd}${lineEnd}`)
    .join('');

function readInPieces(text: string, size: number): SseSideReader {
  const reader = new SseSideReader('openai-responses');
  const bytes = Buffer.from(text, 'utf8');
  for (let offset = 0; offset < bytes.length; offset += size) reader.push(bytes.subarray(offset, offset + size));
  reader.finish();
  return reader;
}

describe('SseSideReader', () => {
  for (const [label, text] of [
    ['event lines', stream(true)],
    ['no event lines', stream(false)],
    ['CRLF line ends', stream(true, '\r\n')],
  ] as const) {
    it(`reads usage and tool calls from response.completed (${label}), whatever the chunking — even mid-character`, () => {
      for (const size of [1, 2, 3, 7, 64, 100_000]) {
        const reader = readInPieces(text, size);
        expect(reader.completed, `chunk size ${size}`).toBe(true);
        expect(reader.usage).toEqual({ inputTokens: 10, cachedInputTokens: 4, cacheWriteTokens: 0, outputTokens: 3, reasoningTokens: 1 });
        expect(reader.toolCalls).toEqual([{ callId: 'c1', name: 'exec_command', kind: 'function', input: '{"cmd":"ls"}' }]);
        expect(reader.deltaFrames).toBe(2);
      }
    });
  }

  it('notices a stream that ends without its final event', () => {
    const reader = readInPieces(stream(true).split('event: response.completed')[0] ?? '', 5);
    expect(reader.completed).toBe(false);
    expect(reader.usage?.outputTokens).toBe(2);
  });

  it('reports response.failed and error events', () => {
    const failed = readInPieces(`event: response.failed\ndata: ${JSON.stringify({ type: 'response.failed', response: { error: { code: 'server_error', message: 'boom' }, output: [] } })}\n\n`, 9);
    expect(failed.failed).toEqual({ code: 'server_error', message: 'boom' });
    const error = readInPieces(`event: error\ndata: ${JSON.stringify({ type: 'error', code: 'rate_limit_exceeded', message: 'slow down' })}\n\n`, 4);
    expect(error.failed).toEqual({ code: 'rate_limit_exceeded', message: 'slow down' });
  });
});
