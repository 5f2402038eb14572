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

function readInPieces(text: string, size: number, protocol: 'openai-responses' | 'anthropic-messages' = 'openai-responses'): SseSideReader {
  const reader = new SseSideReader(protocol);
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

  const anthropicEvents = [
    { type: 'message_start', message: { id: 'msg_1', model: 'claude-sonnet-4-5', usage: { input_tokens: 12, cache_creation_input_tokens: 30, cache_read_input_tokens: 500, output_tokens: 1 } } },
    { type: 'ping' },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'héllo ✓' } },
    { type: 'content_block_stop', index: 0 },
    { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'Bash', input: {}, caller: { type: 'direct' } } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"command":' } },
    { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '"ls ✓"}' } },
    { type: 'content_block_stop', index: 1 },
    // Cumulative; current API versions repeat the input counts here.
    { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { input_tokens: 12, cache_creation_input_tokens: 30, cache_read_input_tokens: 500, output_tokens: 41 } },
  ];
  const anthropicStream = (events: object[]) => events.map((event) => `event: ${(event as { type: string }).type}\ndata: ${JSON.stringify(event)}\n\n`).join('');

  it('reads Anthropic usage (cache reads and writes counted into input) and tool calls, whatever the chunking', () => {
    for (const size of [1, 3, 17, 100_000]) {
      const reader = readInPieces(anthropicStream([...anthropicEvents, { type: 'message_stop' }]), size, 'anthropic-messages');
      expect(reader.completed, `chunk size ${size}`).toBe(true);
      expect(reader.usage).toEqual({ inputTokens: 542, cachedInputTokens: 500, cacheWriteTokens: 30, outputTokens: 41, reasoningTokens: 0 });
      expect(reader.toolCalls).toEqual([{ callId: 'toolu_1', name: 'Bash', kind: 'function', input: '{"command":"ls ✓"}' }]);
      expect(reader.model).toBe('claude-sonnet-4-5');
      expect(reader.deltaFrames).toBe(3);
    }
  });

  it('Anthropic: an older message_delta with output only keeps the start counts; no message_stop is not complete; error events are failures', () => {
    const older = anthropicEvents.map((event) => (event.type === 'message_delta' ? { ...event, usage: { output_tokens: 41 } } : event));
    expect(readInPieces(anthropicStream([...older, { type: 'message_stop' }]), 5, 'anthropic-messages').usage).toEqual({ inputTokens: 542, cachedInputTokens: 500, cacheWriteTokens: 30, outputTokens: 41, reasoningTokens: 0 });
    const cut = readInPieces(anthropicStream(anthropicEvents.slice(0, 5)), 5, 'anthropic-messages');
    expect(cut.completed).toBe(false);
    expect(cut.usage?.inputTokens).toBe(542);
    const failed = readInPieces(anthropicStream([...anthropicEvents.slice(0, 4), { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } }]), 7, 'anthropic-messages');
    expect(failed.failed).toEqual({ code: 'overloaded_error', message: 'Overloaded' });
  });
});
