import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeResponsesUpstream, type FakeResponsesUpstream, type RecordedRequest } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, TEST_ADMIN_TOKEN, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, codexHeaders, postTurn, type GatewayAnswer } from './helpers/e2e-client.ts';
import { sessionDraw } from '../../shared/policy/optimizer-settings.ts';
import type { ExplorationPlan } from '../../shared/exploration/exploration-plan.ts';

/**
 * Issue 18 part 5 on the running system: the embedded loop's run publishes an exploration plan for
 * each cost center with `exploration_share`, the gateway applies it to the sessions the share draws —
 * the cheaper model never served to the cost center, at a lowered `reasoning.effort` spliced into
 * Codex's own bytes — never beyond the cap, never to a model outside the allow-list, never while
 * the budget stage is not ok, and not once the plan expired.
 */

const SHARE = 0.05;
const policy = {
  models: {
    'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } },
    'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, cached_input: 0.025, output: 2 } },
    // Cheapest of all, and in no allow-list: the optimizer must never explore it.
    'gpt-5.1-nano': { provider: 'openai', upstream: 'gpt-5.1-nano', price: { input: 0.05, cached_input: 0.005, output: 0.4 } },
  },
  cost_centers: {
    platform: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini'], optimizer: { exploration_share: SHARE } },
    // Past its alert line from the first turn on: exploration must stay off.
    tight: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini'], budgets: { cost_center: { daily_usd: 1 } }, stages: { alert: 0.000001, downgrade: 50, pause: 100 }, optimizer: { exploration_share: SHARE } },
  },
  keys: [
    { key: 'vk_platform', developer: 'alice', cost_center: 'platform' },
    { key: 'vk_tight', developer: 'bob', cost_center: 'tight' },
  ],
};

// A real Codex CLI request (turn 2 of a capture), at the effort Codex sends by default.
const codexBody = JSON.parse(readFileSync(new URL('../fixtures/inbound/codex-cli/responses-request-turn2.json', import.meta.url), 'utf8')).body as Record<string, unknown>;
const body = { ...codexBody, reasoning: { effort: 'high' } };
const clientBytes = JSON.stringify(body);

describe('the running optimizer loop explores what history cannot score', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  /** Upstream requests by the session that sent them. */
  const received = new Map<string, RecordedRequest>();

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'done' }], usage: { input_tokens: 12_000, cached_tokens: 8_000, output_tokens: 400 } }));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy });
  }, 60_000);
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  /** One Codex turn per session, a few at a time; the upstream request each caused is kept by session. */
  async function turns(key: string, sessions: readonly string[]): Promise<Map<string, GatewayAnswer>> {
    const answers = new Map<string, GatewayAnswer>();
    for (let start = 0; start < sessions.length; start += 8) {
      await Promise.all(
        sessions.slice(start, start + 8).map(async (sessionId) => {
          const answer = await postTurn(gatehouse.url, key, body, { ...codexHeaders(sessionId, `${sessionId}-t`), 'content-type': 'application/json' });
          expect(answer.status, answer.text).toBe(200);
          answers.set(sessionId, answer);
        }),
      );
    }
    for (const request of upstream.requests) received.set(String(request.headers['session-id']), request);
    return answers;
  }

  const sessionsOf = (prefix: string, count: number) => Array.from({ length: count }, (_, index) => `${prefix}-${index.toString(36)}-${(index * 7919).toString(16)}`);
  const drawn = (costCenter: string, sessionId: string) => sessionDraw(`exploration:${costCenter}`, sessionId) < SHARE;

  it('publishes a plan per cost center, applies it to the drawn sessions only, rewrites the effort in the client bytes, and stops when it expires', async () => {
    // History: both cost centers ask gpt-5.5 at effort high; gpt-5.1-mini was never served to either.
    await turns('vk_platform', sessionsOf('history-p', 16));
    await turns('vk_tight', sessionsOf('history-t', 16));
    await waitForRows(gatehouse, `SELECT 1 FROM gatehouse.spans WHERE requested_reasoning_effort = 'high'`, 32);

    const run = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', {});
    expect(run.status, run.text).toBe(200);
    const exploration = run.body.exploration as { costCenter: string; plan?: ExplorationPlan; candidates: { id: string; routeTo: string }[] }[];
    const planOf = (name: string) => exploration.find((entry) => entry.costCenter === name)?.plan;
    // No evidence yet: the acquisition picks the largest saving, the cheaper model at the lowest effort tried.
    expect(planOf('platform')).toMatchObject({ requestedModel: 'gpt-5.5', routeTo: 'gpt-5.1-mini', reasoningEffort: 'low', share: SHARE });
    expect(planOf('tight')).toBeDefined();
    for (const entry of exploration) for (const candidate of entry.candidates) expect(candidate.routeTo).not.toBe('gpt-5.1-nano');
    // The status (console, `gatehouse optimize --dry-run`) shows the plans the gateways apply.
    const status = await admin(gatehouse.url, 'GET', '/admin/optimizer/status');
    expect((status.body.plans as ExplorationPlan[]).map((plan) => plan.costCenter).sort()).toEqual(['platform', 'tight']);
    const cli = await promisify(execFile)(process.execPath, [resolve(import.meta.dirname, '../../bin/gatehouse.mjs'), 'optimize', '--dry-run', '--url', gatehouse.url, '--token', TEST_ADMIN_TOKEN], { timeout: 60_000 });
    expect(cli.stdout).toMatch(/exploration: for platform, exploring gpt-5\.5->gpt-5\.1-mini@low on up to 5\.0% of sessions \(0 of 200 scored turns\) — plan \(not published: dry run\): gpt-5\.5->gpt-5\.1-mini@low on ≤ 5\.0% of sessions until /);
    expect(cli.stdout).toMatch(/exploration plan in force for platform: gpt-5\.5->gpt-5\.1-mini@low on ≤ 5\.0% of sessions until /);

    const sessions = sessionsOf('after-p', 320);
    const answers = await turns('vk_platform', sessions);
    const explored = sessions.filter((sessionId) => answers.get(sessionId)?.headers['x-gatehouse-served-model'] === 'gpt-5.1-mini');
    // Exactly the sessions the share draws: never one beyond the cap.
    expect(explored).toEqual(sessions.filter((sessionId) => drawn('platform', sessionId)));
    expect(explored.length).toBeGreaterThan(6);
    expect(explored.length / sessions.length).toBeLessThan(SHARE + 0.03);
    for (const sessionId of sessions) {
      const request = received.get(sessionId) as RecordedRequest;
      const expected = explored.includes(sessionId)
        ? clientBytes.replace('"model":"gpt-5.5"', '"model":"gpt-5.1-mini"').replace('"reasoning":{"effort":"high"}', '"reasoning":{"effort":"low"}')
        : clientBytes;
      // Spliced into the client's bytes: everything else (the history Codex resends) byte for byte.
      expect(request.rawBody.toString('utf8') === expected, sessionId).toBe(true);
    }

    // Past its alert line, the other cost center is never explored, though it has a plan.
    const tight = await turns('vk_tight', sessionsOf('after-t', 80));
    for (const answer of tight.values()) expect(answer.headers).toMatchObject({ 'x-gatehouse-served-model': 'gpt-5.5', 'x-gatehouse-budget-stage': 'alert' });

    const spans = await waitForRows<{ cost_center: string; served_model: string; reasoning_effort: string; requested_reasoning_effort: string; rule_id: string }>(
      gatehouse,
      `SELECT cost_center, served_model, reasoning_effort, requested_reasoning_effort, rule_id FROM gatehouse.spans WHERE experiment_arm = 'exploration'`,
      explored.length,
    );
    expect(spans).toHaveLength(explored.length);
    for (const span of spans) expect(span).toEqual({ cost_center: 'platform', served_model: 'gpt-5.1-mini', reasoning_effort: 'low', requested_reasoning_effort: 'high', rule_id: 'exploration' });
    const nano = await gatehouse.clickhouse.query({ query: `SELECT count() AS n FROM gatehouse.spans WHERE served_model = 'gpt-5.1-nano'`, format: 'JSONEachRow' });
    expect(Number((await nano.json<{ n: string }>())[0]?.n)).toBe(0);

    // A plan lives one TTL without a newer run: an optimizer that stops publishing stops exploration.
    gatehouse.config.optimizer.exploration_ttl_seconds = 3;
    const short = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', { cost_center: 'platform' });
    const plan = (short.body.exploration as { plan?: ExplorationPlan }[])[0]?.plan as ExplorationPlan;
    const end = plan.expiresAt as number;
    expect(end).toBeLessThanOrEqual(Date.now() + 3000);
    // One explored session's turns, one at a time, until the plan ends: a turn answered before the end
    // was explored. (A turn sent before and answered after may go either way: the machine's load decides.)
    const probe = explored[0] as string;
    while (Date.now() < end) {
      const sent = Date.now();
      const answer = await postTurn(gatehouse.url, 'vk_platform', body, codexHeaders(probe, `${probe}-${sent}`));
      if (Date.now() < end) expect(answer.headers['x-gatehouse-served-model']).toBe('gpt-5.1-mini');
    }
    // Past the end, no session is explored any more, with no notice and no newer run.
    const again = explored.slice(0, 8);
    const after = await turns('vk_platform', again);
    for (const answer of after.values()) expect(answer.headers['x-gatehouse-served-model']).toBe('gpt-5.5');
    for (const sessionId of again) expect(received.get(sessionId)?.rawBody.toString('utf8') === clientBytes).toBe(true);
  }, 240_000);
});
