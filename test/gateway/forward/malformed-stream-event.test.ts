import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { forwardTranslated } from '../../../gateway/forward/forward-translated.ts';
import type { ForwardRequest, ResolvedTarget } from '../../../gateway/forward/forward-types.ts';
import type { ProviderConfig } from '../../../shared/config/config-schema.ts';
import { renderAnthropicTurn } from '../../helpers/fake-upstreams/fake-anthropic.ts';
import { eventFrame, renderBedrockTurn } from '../../helpers/fake-upstreams/fake-bedrock.ts';
import { renderGeminiTurn } from '../../helpers/fake-upstreams/fake-gemini.ts';
import { renderOpenAIResponsesTurn } from '../../helpers/fake-upstreams/fake-openai-responses.ts';
import { startFakeServer, type FakeServer, type RenderTurn } from '../../helpers/fake-upstreams/fake-server.ts';
import { memorySink } from '../../helpers/memory-sink.ts';

// Issue 20: every adapter reads upstream events with a lenient zod schema. An event that is JSON but
// not readable as what it claims to be (a delta that is not text, a block index that is not a number)
// used to be skipped silently; it is now a warning on the turn's span, and the answer still arrives
// whole. (openai-chat reads every chunk leniently, field by field: test/gateway/providers/openai-chat/
// lenient-chunks.test.ts; its non-JSON events: unreadable-stream-event.test.ts.)
const body = (JSON.parse(readFileSync(new URL('../../fixtures/inbound/codex-cli/responses-request-turn1.json', import.meta.url), 'utf8')) as { body: Record<string, unknown> }).body;

interface Case {
  provider: string;
  render: RenderTurn;
  config: (url: string) => ProviderConfig;
  /** A valid JSON event of a known type whose content has the wrong shape. */
  bad: string | Uint8Array;
  /** What the warning names. */
  reason: RegExp;
}

const CASES: Case[] = [
  {
    provider: 'openai',
    render: renderOpenAIResponsesTurn,
    config: (url) => ({ type: 'openai', base_url: `${url}/v1`, api_key: 'sk_test' }),
    bad: 'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","item_id":"msg_1","content_index":0,"delta":42}\n\n',
    reason: /response\.output_text\.delta delta: .*string/,
  },
  {
    provider: 'azure-openai',
    render: renderOpenAIResponsesTurn,
    config: (url) => ({ type: 'azure-openai', base_url: url, api_key: 'sk_test', api_version: '2025-04-01-preview' }),
    bad: 'event: response.output_item.added\ndata: {"type":"response.output_item.added","output_index":1,"item":"a message"}\n\n',
    reason: /response\.output_item\.added item: .*object/,
  },
  {
    provider: 'anthropic',
    render: renderAnthropicTurn,
    config: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }),
    bad: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":"first","delta":{"type":"text_delta","text":7}}\n\n',
    reason: /content_block_delta index: .*number/,
  },
  {
    provider: 'gemini',
    render: renderGeminiTurn,
    config: (url) => ({ type: 'gemini', base_url: url, api_key: 'sk_test' }),
    bad: 'data: {"candidates":[{"content":{"parts":[{"text":42}],"role":"model"}}],"responseId":"fake-response-id"}\r\n\r\n',
    reason: /candidates\.0\.content\.parts\.0\.text: .*string/,
  },
  {
    provider: 'bedrock',
    render: renderBedrockTurn,
    config: (url) => ({ type: 'bedrock', base_url: url, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' }),
    bad: eventFrame('contentBlockDelta', { contentBlockIndex: 0, delta: 'oops' }),
    reason: /delta: .*object/,
  },
];

let servers: FakeServer[] = [];
afterEach(async () => {
  for (const server of servers) await server.close();
  servers = [];
});

describe('an upstream stream event of the wrong shape', () => {
  it.each(CASES)('$provider: reported as a warning on the span, the rest of the answer kept', async ({ provider, render, config, bad, reason }) => {
    // The real provider's frames with one malformed event in the middle of the answer.
    const withBadFrame: RenderTurn = (turn, request) => {
      const reply = render(turn, request);
      const middle = Math.floor(reply.frames.length / 2);
      return { ...reply, frames: [...reply.frames.slice(0, middle), bad, ...reply.frames.slice(middle)] };
    };
    const server = await startFakeServer(withBadFrame, [{ text: 'Still here, every word of it.', chunkSize: 4, usage: { input: 10, output: 3 } }]);
    servers.push(server);
    const target = { model: 'gpt-5.5', upstreamModel: 'upstream-model', providerName: provider, provider: config(server.url), price: { input: 1, cached_input: 0.1, output: 2 } } as ResolvedTarget;
    const sink = memorySink();
    const request: ForwardRequest = { inbound: 'openai-responses', body, rawBody: Buffer.from(JSON.stringify(body)), forwardHeaders: {}, target, stream: true, sink, timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 20_000 }, sessionId: 's1', requestId: `req_malformed_${provider}` };
    const outcome = await forwardTranslated(request);
    expect(sink.text()).toContain('response.completed');
    expect(completedText(sink.text())).toBe('Still here, every word of it.');
    const warnings = outcome.warnings.filter((warning) => warning.startsWith('unsupported:upstream.stream_event: unreadable upstream stream event skipped'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(reason);
  });
});

/** The output text of the Responses stream's `response.completed` event. */
function completedText(stream: string): string {
  const line = stream.split('\n').find((candidate) => candidate.startsWith('data: ') && candidate.includes('"response.completed"'));
  const response = (JSON.parse(line!.slice('data: '.length)) as { response: { output: { type: string; content?: { type: string; text: string }[] }[] } }).response;
  return response.output
    .filter((item) => item.type === 'message')
    .flatMap((item) => item.content ?? [])
    .map((part) => part.text)
    .join('');
}
