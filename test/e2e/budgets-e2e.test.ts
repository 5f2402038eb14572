import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { approve, codexHeaders, makeApprover, postTurn, propose, simpleTurn, startAlertReceiver, waitUntil, type AlertReceiver, type GatewayAnswer } from './helpers/e2e-client.ts';

/**
 * Issue 5 ("cost control") against a running embedded gateway: stage transitions with known usage
 * (webhook once per budget per period, downgrade upstream, structured pause), 64 concurrent
 * requests against a budget that allows 10, spend kept across a restart, the retry cap on a
 * replayed Codex session, and a routing rule in dry run then active.
 */

// Prices chosen so that token counts map to round dollars: gpt-5.5 input $100/M → 1,000 tokens = $0.10.
const MODELS = {
  'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 100, output: 0 } },
  'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 10, output: 0 } },
  // Output-only price with a capped output: the reservation estimate equals the real cost ($0.10).
  flat: { provider: 'openai', upstream: 'flat-upstream', price: { input: 0, output: 100 } },
};
const KEYS = { staged: 'vk_budget_staged', crowd: 'vk_budget_crowd', loop: 'vk_budget_loop', routed: 'vk_budget_routed', warm: 'vk_budget_warm', observe: 'vk_budget_observe' };
const routeLead = makeApprover('route-lead', ['routed']);
const observeLead = makeApprover('observe-lead', ['observe']);
const ROUTE_RULE = { id: 'routed-to-mini', cost_centers: ['routed'], when: { requested_models: ['gpt-5.5'] }, route_to: 'gpt-5.1-mini' };

function policy(webhookUrl: string): Record<string, unknown> {
  return {
    models: MODELS,
    cost_centers: {
      staged: {
        allowed_models: ['gpt-5.5', 'gpt-5.1-mini'],
        budgets: { developer: { daily_usd: 1 }, cost_center: { daily_usd: 1 } },
        downgrade: { 'gpt-5.5': 'gpt-5.1-mini' },
      },
      crowd: { allowed_models: ['flat'], budgets: { developer: { daily_usd: 1 } }, stages: { alert: 0.8, downgrade: 0.95, pause: 1 } },
      loop: { allowed_models: ['gpt-5.5'], retry_cap: 2 },
      warm: { allowed_models: ['gpt-5.5'], budgets: { developer: { daily_usd: 1 } } },
      observe: { allowed_models: ['gpt-5.5'], budgets: { developer: { daily_usd: 1 } }, dry_run: true },
      routed: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini'] },
    },
    rules: [{ ...ROUTE_RULE, dry_run: true }],
    keys: [
      { key: KEYS.staged, developer: 'stella', cost_center: 'staged' },
      { key: KEYS.crowd, developer: 'carol', cost_center: 'crowd' },
      { key: KEYS.loop, developer: 'leo', cost_center: 'loop' },
      { key: KEYS.routed, developer: 'ruth', cost_center: 'routed' },
      { key: KEYS.warm, developer: 'walt', cost_center: 'warm' },
      { key: KEYS.observe, developer: 'olga', cost_center: 'observe' },
    ],
    approvers: [routeLead.policyEntry(), observeLead.policyEntry()],
    alerts: { webhook_url: webhookUrl },
  };
}

/** A replayed Codex session (the real turn-2 request) whose last `failures` commands exited with code 1. */
function replayedSession(failures: number, endWithSuccess = false): { headers: Record<string, string>; body: Record<string, unknown> } {
  const fixture = JSON.parse(readFileSync(new URL('../fixtures/inbound/codex-cli/responses-request-turn2.json', import.meta.url), 'utf8')) as { headers: Record<string, string>; body: Record<string, unknown> };
  const input = [...(fixture.body.input as unknown[])];
  const output = (code: number) => `Chunk ID: 5e1a${code}\nWall time: 0.2000 seconds\nProcess exited with code ${code}\nOriginal token count: 4\nOutput:\n${code === 0 ? 'ok' : 'npm ERR! test failed'}\n`;
  for (let index = 0; index < failures; index += 1) {
    input.push({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: 'npm test' }), call_id: `call_fail_${index}` });
    input.push({ type: 'function_call_output', call_id: `call_fail_${index}`, output: output(1) });
  }
  if (endWithSuccess) {
    input.push({ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: 'npm test -- --fix' }), call_id: 'call_ok' });
    input.push({ type: 'function_call_output', call_id: 'call_ok', output: output(0) });
  }
  const { authorization: _a, 'content-length': _l, 'accept-encoding': _e, 'content-type': _c, ...headers } = fixture.headers;
  return { headers, body: { ...fixture.body, input } };
}

describe('budgets, retry cap and routing rules end to end (issue 5)', () => {
  let upstream: FakeResponsesUpstream;
  let receiver: AlertReceiver;
  let gatehouse: TestGatehouse;
  let folder: string;
  /** Input tokens the fake reports for the next gpt-5.5 / gpt-5.1-mini answers (default 100). */
  const usageQueue: number[] = [];

  const start = () => startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy: policy(receiver.url), dataDir: join(folder, 'data') });
  const spanOf = async (answer: GatewayAnswer) =>
    (await waitForRows<Record<string, any>>(gatehouse, `SELECT * FROM gatehouse.spans WHERE request_id = '${String(answer.headers['x-gatehouse-request-id'])}'`, 1))[0];
  const alertsBy = (event: string) => receiver.alerts.filter((alert) => alert.event === event);

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-budgets-e2e-'));
    receiver = await startAlertReceiver();
    upstream = await startFakeResponsesUpstream((body) => {
      if (body.model === 'flat-upstream') return { output: [{ type: 'message', text: 'flat' }], usage: { input_tokens: 500, output_tokens: 1000 }, delayMillis: 100 };
      return { output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: usageQueue.shift() ?? 100, output_tokens: 5 } };
    });
    gatehouse = await start();
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    await receiver?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('walks ok → alert → downgrade → pause with known usage: webhook once per budget per stage, downgrade upstream, structured 429', async () => {
    const send = async (inputTokens: number) => {
      usageQueue.push(inputTokens);
      return postTurn(gatehouse.url, KEYS.staged, simpleTurn('gpt-5.5'));
    };
    // Each scope (developer stella, cost center staged: $1/day each) sees the same spend.
    const first = await send(8_500); // $0.85
    expect(first.status).toBe(200);
    expect(first.headers['x-gatehouse-budget-stage']).toBe('ok');
    const second = await send(500); // 0.85 ≥ 80% → alert; +$0.05
    expect(second.headers['x-gatehouse-budget-stage']).toBe('alert');
    expect(upstream.requests.at(-1)?.body.model).toBe('gpt-5.5');
    const third = await send(600); // still alert; +$0.06 → $0.96
    expect(third.headers['x-gatehouse-budget-stage']).toBe('alert');

    const fourth = await send(10_000); // 0.96 ≥ 95% → downgrade to gpt-5.1-mini ($10/M): +$0.10
    expect(fourth.status).toBe(200);
    expect(fourth.headers['x-gatehouse-budget-stage']).toBe('downgrade');
    expect(fourth.headers['x-gatehouse-downgraded-from']).toBe('gpt-5.5');
    expect(fourth.headers['x-gatehouse-served-model']).toBe('gpt-5.1-mini');
    expect(upstream.requests.at(-1)?.body.model).toBe('gpt-5.1-mini');
    const fifth = await send(5_000); // $1.06 + estimate < 110%: still downgraded; +$0.05 → $1.11
    expect(fifth.headers['x-gatehouse-downgraded-from']).toBe('gpt-5.5');
    expect(upstream.requests.at(-1)?.body.model).toBe('gpt-5.1-mini');

    const before = upstream.requests.length;
    const paused = await postTurn(gatehouse.url, KEYS.staged, simpleTurn('gpt-5.5'));
    expect(paused.status).toBe(429);
    expect(paused.headers['retry-after']).toBeUndefined();
    expect(paused.body.error).toMatchObject({ code: 'budget_exhausted', param: null, request_id: paused.headers['x-gatehouse-request-id'], policy_version: expect.any(Number) });
    expect(typeof paused.body.error.type).toBe('string');
    expect(paused.body.error.message).toMatch(/daily budget of (developer stella \(cost center staged\)|cost center staged) is exhausted: \$1\.11 spent of \$1\.00 \(requests pause at 110%\); it resets /);
    expect(upstream.requests.length).toBe(before);
    // Codex CLI gets the same body as a 400 (it would retry or hide a 429), at once.
    const pausedForCodex = await postTurn(gatehouse.url, KEYS.staged, simpleTurn('gpt-5.5'), codexHeaders('budget-codex', 'turn-1'));
    expect(pausedForCodex.status).toBe(400);
    expect(pausedForCodex.headers['x-gatehouse-denied-status']).toBe('429');
    expect(pausedForCodex.body.error.code).toBe('budget_exhausted');
    expect(pausedForCodex.body.error.message).toBe(paused.body.error.message);

    const costs = await waitForRows<{ cost_usd: number; budget_stage: string; served_model: string }>(
      gatehouse,
      `SELECT cost_usd, budget_stage, served_model FROM gatehouse.spans WHERE developer = 'stella' AND status_code = 200 ORDER BY ts`,
      5,
    );
    expect(costs.map((row) => row.budget_stage)).toEqual(['ok', 'alert', 'alert', 'downgrade', 'downgrade']);
    expect(costs.reduce((sum, row) => sum + row.cost_usd, 0)).toBeCloseTo(1.11, 9);

    // Webhooks: alert and downgrade once for each of the two budgets, pause once (the budget that denied).
    await waitUntil('alert webhooks', () => alertsBy('budget.alert').length >= 2 && alertsBy('budget.downgrade').length >= 2 && alertsBy('budget.pause').length >= 1);
    await new Promise((resolve) => setTimeout(resolve, 500)); // duplicates would arrive by now
    const scopes = (event: string) => alertsBy(event).map((alert) => String(alert.scope)).sort();
    expect(scopes('budget.alert')).toEqual([expect.stringMatching(/^cc:staged:daily:/), expect.stringMatching(/^dev:stella:daily:/)]);
    expect(scopes('budget.downgrade')).toEqual(scopes('budget.alert'));
    expect(alertsBy('budget.pause')).toHaveLength(1);
    const alert = alertsBy('budget.alert').find((event) => String(event.scope).startsWith('dev:'));
    expect(alert).toMatchObject({ cost_center: 'staged', developer: 'stella', limit_usd: 1, spend_usd: 0.85, threshold: 0.8, ts: expect.any(String) });
  });

  it('a dry-run cost center past its pause line is served, says "would deny budget_exhausted" on the span, and its spend still counts', async () => {
    usageQueue.push(12_000); // $1.20 of $1.00
    expect((await postTurn(gatehouse.url, KEYS.observe, simpleTurn('gpt-5.5'))).status).toBe(200);
    for (const tokens of [1_000, 2_000]) {
      usageQueue.push(tokens);
      const answer = await postTurn(gatehouse.url, KEYS.observe, simpleTurn('gpt-5.5'));
      expect(answer.status).toBe(200);
      expect((await spanOf(answer))?.dry_run_decision).toContain('would deny budget_exhausted');
    }
    const [row] = await waitForRows<{ spend: number }>(gatehouse, `SELECT sum(cost_usd) AS spend FROM gatehouse.spans WHERE developer = 'olga' HAVING count() >= 3`, 1);
    expect(row?.spend).toBeCloseTo(1.5, 9);
    // The ledger counted all of it: once the dry run ends, the denial states $1.50, not $1.20.
    const enforce = await propose(gatehouse.url, { cost_centers: { observe: { dry_run: false } } }, 'warm-up over');
    expect((await approve(gatehouse.url, enforce, observeLead)).status).toBe(200);
    const paused = await postTurn(gatehouse.url, KEYS.observe, simpleTurn('gpt-5.5'));
    expect(paused.status).toBe(429);
    expect(paused.body.error.message).toContain('$1.50 spent of $1.00');
  });

  it('64 concurrent requests against a budget that allows 10: spend never passes the pause line', async () => {
    const body = { ...simpleTurn('flat'), max_output_tokens: 1_000 }; // reserves exactly $0.10, costs $0.10
    const answers = await Promise.all(Array.from({ length: 64 }, () => postTurn(gatehouse.url, KEYS.crowd, body)));
    const served = answers.filter((answer) => answer.status === 200).length;
    const paused = answers.filter((answer) => answer.status === 429 && answer.body.error.code === 'budget_exhausted').length;
    expect(served + paused).toBe(64);
    expect(served).toBe(10);
    const [total] = await waitForRows<{ spend: number; n: number }>(gatehouse, `SELECT sum(cost_usd) AS spend, count() AS n FROM gatehouse.spans WHERE developer = 'carol' HAVING n >= 64`, 1);
    expect(total?.n).toBe(64);
    expect(total!.spend).toBeLessThanOrEqual(1.0 + 1e-9); // pause stage = 100% of $1.00
    expect(total!.spend).toBeCloseTo(1.0, 9);
    // 64 requests raced past every threshold of carol's budget: each stage is still reported once.
    await waitUntil('carol\'s alerts', () => ['budget.alert', 'budget.downgrade', 'budget.pause'].every((event) => alertsBy(event).some((alert) => alert.developer === 'carol')));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const carol = receiver.alerts.filter((alert) => alert.developer === 'carol').map((alert) => `${alert.event} ${alert.scope}`).sort();
    expect(carol).toEqual(['budget.alert', 'budget.downgrade', 'budget.pause'].map((event) => `${event} ${carol[0]?.split(' ')[1]}`));
  });

  describe('retry cap on a replayed Codex session whose commands keep failing (retry_cap 2)', () => {
    it('serves up to the cap, then 429 retry_limit_exceeded (400 to Codex) saying why; a success resets it', async () => {
      const atCap = replayedSession(2);
      const { originator: _o, 'user-agent': _u, ...plainHeaders } = atCap.headers;
      expect((await postTurn(gatehouse.url, KEYS.loop, atCap.body, plainHeaders)).status).toBe(200);

      const before = upstream.requests.length;
      const over = replayedSession(3);
      const refused = await postTurn(gatehouse.url, KEYS.loop, over.body, plainHeaders);
      expect(refused.status).toBe(429);
      expect(refused.body.error.code).toBe('retry_limit_exceeded');
      expect(refused.body.error.message).toContain('last 3 tool calls failed in a row, above the retry cap of 2 for cost center "loop"');
      expect(refused.headers['retry-after']).toBeUndefined();

      const toCodex = await postTurn(gatehouse.url, KEYS.loop, over.body, over.headers);
      expect(toCodex.status).toBe(400);
      expect(toCodex.headers['x-gatehouse-denied-status']).toBe('429');
      expect(toCodex.body.error.code).toBe('retry_limit_exceeded');
      expect(toCodex.body.error.message).toBe(refused.body.error.message);
      expect(upstream.requests.length).toBe(before);

      const recovered = replayedSession(3, true);
      const served = await postTurn(gatehouse.url, KEYS.loop, recovered.body, recovered.headers);
      expect(served.status).toBe(200);
      expect(upstream.requests.length).toBe(before + 1);
      const row = await spanOf(refused);
      expect(row).toMatchObject({ status_code: 429, error_code: 'retry_limit_exceeded', developer: 'leo' });
    });
  });

  describe('a routing rule: dry run first, then active through a signed approval', () => {
    it('in dry run it changes nothing but is on the span', async () => {
      const answer = await postTurn(gatehouse.url, KEYS.routed, simpleTurn('gpt-5.5'));
      expect(answer.status).toBe(200);
      expect(answer.headers['x-gatehouse-served-model']).toBe('gpt-5.5');
      expect(upstream.requests.at(-1)?.body.model).toBe('gpt-5.5');
      expect(await spanOf(answer)).toMatchObject({ served_model: 'gpt-5.5', rule_id: 'routed-to-mini', rule_dry_run: true, dry_run_decision: 'rule routed-to-mini would route gpt-5.5 -> gpt-5.1-mini' });
    });

    it('active, the same rule changes the served model upstream', async () => {
      const proposal = await propose(gatehouse.url, { rules: [{ ...ROUTE_RULE, dry_run: false }] }, 'dry run showed the route is safe');
      const approved = await approve(gatehouse.url, proposal, routeLead);
      expect(approved.status).toBe(200);
      const answer = await postTurn(gatehouse.url, KEYS.routed, simpleTurn('gpt-5.5'));
      expect(answer.status).toBe(200);
      expect(answer.headers['x-gatehouse-policy-version']).toBe(String(approved.body.version));
      expect(answer.headers['x-gatehouse-served-model']).toBe('gpt-5.1-mini');
      expect(upstream.requests.at(-1)?.body.model).toBe('gpt-5.1-mini');
      expect(await spanOf(answer)).toMatchObject({ requested_model: 'gpt-5.5', served_model: 'gpt-5.1-mini', rule_id: 'routed-to-mini', rule_dry_run: false, dry_run_decision: '' });
    });
  });

  it('a restart in embedded mode keeps the period spend: the next request sees the budget stage, no alert is sent twice', async () => {
    usageQueue.push(8_500); // walt: $0.85 of $1.00
    expect((await postTurn(gatehouse.url, KEYS.warm, simpleTurn('gpt-5.5'))).headers['x-gatehouse-budget-stage']).toBe('ok');
    usageQueue.push(100);
    expect((await postTurn(gatehouse.url, KEYS.warm, simpleTurn('gpt-5.5'))).headers['x-gatehouse-budget-stage']).toBe('alert');
    await waitUntil('walt\'s alert', () => receiver.alerts.some((alert) => alert.developer === 'walt'));
    const alertsBefore = receiver.alerts.length;
    await gatehouse.stop();
    gatehouse = await start();
    const warm = await postTurn(gatehouse.url, KEYS.warm, simpleTurn('gpt-5.5'));
    expect(warm.status).toBe(200);
    expect(warm.headers['x-gatehouse-budget-stage']).toBe('alert');
    const staged = await postTurn(gatehouse.url, KEYS.staged, simpleTurn('gpt-5.5'));
    expect(staged.status).toBe(429);
    expect(staged.body.error.code).toBe('budget_exhausted');
    expect(staged.body.error.message).toContain('$1.11 spent of $1.00');
    const crowd = await postTurn(gatehouse.url, KEYS.crowd, { ...simpleTurn('flat'), max_output_tokens: 1_000 });
    expect(crowd.status).toBe(429);
    const fresh = await postTurn(gatehouse.url, KEYS.routed, simpleTurn('gpt-5.1-mini'));
    expect(fresh.status).toBe(200);
    expect(fresh.headers['x-gatehouse-budget-stage']).toBe('ok');
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(receiver.alerts.slice(alertsBefore).filter((alert) => String(alert.event).startsWith('budget.'))).toEqual([]);
  });
});
