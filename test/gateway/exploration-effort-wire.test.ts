import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeUpstream, type FakeUpstream, type RecordedRequest } from '../helpers/fake-upstreams/index.ts';
import { startTestGatehouse, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { postTurn } from '../e2e/helpers/e2e-client.ts';
import { sessionDraw } from '../../shared/policy/optimizer-settings.ts';
import type { ExplorationPlan } from '../../shared/exploration/exploration-plan.ts';

/**
 * A lowered-effort candidate on the live path, per wire: the Chat pass-through splices
 * `reasoning_effort` into the client's bytes, translation to Anthropic turns the lowered effort into
 * its smaller thinking budget, and where no effort can be carried (a Messages client, an
 * OpenAI-compatible server that takes none) the candidate is skipped for that turn.
 */

const SHARE = 0.05;
const policy = {
  models: {
    'chat-model': { provider: 'chat', upstream: 'chat-upstream', price: { input: 1, output: 4 } },
    claude: { provider: 'anthropic', upstream: 'claude-sonnet-4-5', price: { input: 3, output: 15 } },
    plain: { provider: 'plainchat', upstream: 'plain-upstream', price: { input: 1, output: 4 } },
  },
  cost_centers: { cc: { allowed_models: ['chat-model', 'claude', 'plain'], optimizer: { exploration_share: SHARE } } },
  keys: [{ key: 'vk_wire', developer: 'dana', cost_center: 'cc' }],
};

const sessions = Array.from({ length: 4000 }, (_, index) => `wire-${index.toString(36)}`);
const explored = sessions.filter((id) => sessionDraw('exploration:cc', id) < SHARE).slice(0, 3);
const kept = sessions.filter((id) => sessionDraw('exploration:cc', id) >= SHARE).slice(0, 3);
const plan = (requestedModel: string, reasoningEffort: string): ExplorationPlan => ({ costCenter: 'cc', requestedModel, routeTo: requestedModel, share: SHARE, candidate: `${requestedModel}@${reasoningEffort}`, reasoningEffort, expiresAt: Date.now() + 600_000 });
const turns = (count: number) => Array.from({ length: count }, () => ({ text: 'ok', usage: { input: 100, output: 10 } }));

describe('a lowered reasoning effort on each wire', () => {
  let chat: FakeUpstream;
  let plainChat: FakeUpstream;
  let anthropic: FakeUpstream;
  let gatehouse: TestGatehouse;

  beforeAll(async () => {
    chat = await startFakeUpstream('openai-chat', { script: turns(20) });
    plainChat = await startFakeUpstream('openai-chat', { script: turns(20) });
    anthropic = await startFakeUpstream('anthropic', { script: turns(20) });
    gatehouse = await startTestGatehouse({
      roles: ['gateway'],
      policy,
      providers: {
        chat: { type: 'openai-chat', base_url: chat.url, api_key: 'sk_chat', preset: 'openai' },
        // Together takes no reasoning_effort: a Responses client's turn cannot be lowered there.
        plainchat: { type: 'openai-chat', base_url: plainChat.url, api_key: 'sk_plain', preset: 'together' },
        anthropic: { type: 'anthropic', base_url: anthropic.url, api_key: 'sk_ant' },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await gatehouse?.stop();
    await Promise.all([chat?.close(), plainChat?.close(), anthropic?.close()]);
  });

  const send = (sessionId: string, body: Record<string, unknown>, path: string) => postTurn(gatehouse.url, 'vk_wire', body, { 'x-session-id': sessionId }, path);
  const last = (upstream: FakeUpstream): RecordedRequest => upstream.requests[upstream.requests.length - 1] as RecordedRequest;

  it('Chat pass-through: reasoning_effort spliced into the client bytes of the drawn sessions only', async () => {
    await gatehouse.explorationBoard.publish('cc', plan('chat-model', 'low'));
    const body = { model: 'chat-model', messages: [{ role: 'user', content: 'fix the "build" \\ please' }], reasoning_effort: 'high', stream: true };
    const sent: string[] = [];
    for (const sessionId of kept) {
      await send(sessionId, body, '/v1/chat/completions');
      sent.push(last(chat).rawBody);
    }
    // What a kept session's turn sent: the client's bytes (the messages untouched), with the alias and stream_options spliced in.
    expect(new Set(sent).size).toBe(1);
    expect(sent[0]).toContain(JSON.stringify(body.messages));
    expect(sent[0]).toContain('"reasoning_effort":"high"');
    for (const sessionId of explored) {
      const answer = await send(sessionId, body, '/v1/chat/completions');
      expect(answer.status, answer.text).toBe(200);
      expect(last(chat).rawBody).toBe((sent[0] as string).replace('"reasoning_effort":"high"', '"reasoning_effort":"low"'));
    }
    // A client asking for less than the candidate serves is left alone (exploration only lowers).
    await send(explored[0] as string, { ...body, reasoning_effort: 'minimal' }, '/v1/chat/completions');
    expect(JSON.parse(last(chat).rawBody).reasoning_effort).toBe('minimal');
    const spans = await waitForRows<{ session_id: string; experiment_arm: string; reasoning_effort: string; requested_reasoning_effort: string }>(
      gatehouse,
      `SELECT session_id, experiment_arm, reasoning_effort, requested_reasoning_effort FROM gatehouse.spans WHERE requested_model = 'chat-model' ORDER BY ts`,
      7,
    );
    expect(spans.slice(0, 3).every((span) => span.experiment_arm === '' && span.reasoning_effort === 'high')).toBe(true);
    expect(spans.slice(3, 6).every((span) => span.experiment_arm === 'exploration' && span.reasoning_effort === 'low' && span.requested_reasoning_effort === 'high')).toBe(true);
    expect(spans[6]).toMatchObject({ experiment_arm: '', reasoning_effort: 'minimal' });
  });

  it('translation to Anthropic: the lowered effort becomes the smaller thinking budget', async () => {
    await gatehouse.explorationBoard.publish('cc', plan('claude', 'medium'));
    const body = { model: 'claude', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'refactor it' }] }], reasoning: { effort: 'high' }, stream: true };
    await send(kept[0] as string, body, '/v1/responses');
    expect((last(anthropic).body as { thinking?: unknown }).thinking).toEqual({ type: 'enabled', budget_tokens: 24_000 });
    await send(explored[0] as string, body, '/v1/responses');
    expect((last(anthropic).body as { thinking?: unknown }).thinking).toEqual({ type: 'enabled', budget_tokens: 10_000 });
  });

  it('skips the candidate where no effort can be carried: a Messages client, a server that takes none', async () => {
    await gatehouse.explorationBoard.publish('cc', plan('claude', 'low'));
    const messages = { model: 'claude', max_tokens: 30_000, thinking: { type: 'enabled', budget_tokens: 24_000 }, messages: [{ role: 'user', content: 'hi' }], stream: true };
    const answer = await send(explored[1] as string, messages, '/v1/messages');
    expect(answer.status, answer.text).toBe(200);
    expect((last(anthropic).body as { thinking?: unknown }).thinking).toEqual({ type: 'enabled', budget_tokens: 24_000 });

    await gatehouse.explorationBoard.publish('cc', plan('plain', 'low'));
    await send(explored[1] as string, { model: 'plain', input: [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] }], reasoning: { effort: 'high' }, stream: true }, '/v1/responses');
    expect(last(plainChat).body).not.toHaveProperty('reasoning_effort');
    const spans = await waitForRows<{ requested_model: string; experiment_arm: string }>(gatehouse, `SELECT requested_model, experiment_arm FROM gatehouse.spans WHERE session_id = '${explored[1]}' AND requested_model IN ('claude', 'plain') ORDER BY ts`, 2);
    expect(spans).toEqual([
      { requested_model: 'claude', experiment_arm: '' },
      { requested_model: 'plain', experiment_arm: '' },
    ]);
  });
});
