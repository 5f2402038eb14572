import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { forwardTranslated } from '../../../gateway/forward/forward-translated.ts';
import type { ForwardRequest, ResolvedTarget } from '../../../gateway/forward/forward-types.ts';
import type { ProviderConfig } from '../../../shared/config/config-schema.ts';
import { renderAnthropicTurn } from '../../helpers/fake-upstreams/fake-anthropic.ts';
import { renderOpenAIChatTurn } from '../../helpers/fake-upstreams/fake-openai-chat.ts';
import { startFakeServer, type FakeServer, type RenderTurn } from '../../helpers/fake-upstreams/fake-server.ts';
import { memorySink } from '../../helpers/memory-sink.ts';

// Issue 20: an upstream stream event no adapter can read used to be skipped silently; it is now a
// warning on the turn's span (outcome.warnings → translation_warnings), and the answer still arrives.
const body = (JSON.parse(readFileSync(new URL('../../fixtures/inbound/codex-cli/responses-request-turn1.json', import.meta.url), 'utf8')) as { body: Record<string, unknown> }).body;

const CASES: { provider: string; render: RenderTurn; config: (url: string) => ProviderConfig; bad: string; reason: string }[] = [
  { provider: 'anthropic', render: renderAnthropicTurn, config: (url) => ({ type: 'anthropic', base_url: url, api_key: 'sk_test' }), bad: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,\n\n', reason: 'JSON' },
  { provider: 'openai-chat', render: renderOpenAIChatTurn, config: (url) => ({ type: 'openai-chat', preset: 'vllm', base_url: `${url}/v1`, api_key: 'sk_test' }), bad: 'data: upstream hiccup\n\n', reason: 'not a JSON object' },
];

let servers: FakeServer[] = [];
afterEach(async () => {
  for (const server of servers) await server.close();
  servers = [];
});

describe('an unreadable upstream stream event', () => {
  it.each(CASES)('$provider: reported as a warning on the span, the rest of the answer kept', async ({ provider, render, config, bad, reason }) => {
    // The real provider's frames with one broken event after the first.
    const withBadFrame: RenderTurn = (turn, request) => {
      const reply = render(turn, request);
      return { ...reply, frames: [reply.frames[0]!, bad, ...reply.frames.slice(1)] };
    };
    const server = await startFakeServer(withBadFrame, [{ text: 'Still here.', usage: { input: 10, output: 3 } }]);
    servers.push(server);
    const target = { model: 'gpt-5.5', upstreamModel: 'upstream-model', providerName: provider, provider: config(server.url), price: { input: 1, cached_input: 0.1, output: 2 } } as ResolvedTarget;
    const sink = memorySink();
    const request: ForwardRequest = { inbound: 'openai-responses', body, rawBody: Buffer.from(JSON.stringify(body)), forwardHeaders: {}, target, stream: true, sink, timeouts: { connectMillis: 2000, firstByteMillis: 5000, idleMillis: 5000, totalMillis: 20_000 }, sessionId: 's1', requestId: 'req_unreadable' };
    const outcome = await forwardTranslated(request);
    expect(sink.text()).toContain('Still here.');
    expect(sink.text()).toContain('response.completed');
    const warnings = outcome.warnings.filter((warning) => warning.startsWith('unsupported:upstream.stream_event: unreadable upstream stream event skipped'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(reason);
  });
});
