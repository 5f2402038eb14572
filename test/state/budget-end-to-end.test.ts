import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, testPolicy, waitForRows, TEST_ANALYST_TOKEN, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { main } from '../../cli/main.ts';

// Budgets through the real gateway (embedded): stages in headers, a structured 429 at the pause
// line, each alert webhook once, audit events, spend surviving a restart, and the cache report.
describe('budgets end to end (embedded)', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let hook: FastifyInstance;
  const alerts: Record<string, unknown>[] = [];
  let dataDir: string;

  const policy = (webhook: string) =>
    testPolicy({
      cost_centers: {
        platform: {
          allowed_models: ['gpt-5.5', 'gpt-5.1-mini'],
          allowed_providers: ['openai'],
          budgets: { developer: { daily_usd: 0.5 } },
          downgrade: { 'gpt-5.5': 'gpt-5.1-mini' },
        },
      },
      alerts: { webhook_url: webhook },
    });

  beforeAll(async () => {
    hook = Fastify();
    hook.post('/alerts', async (incoming) => {
      alerts.push(incoming.body as Record<string, unknown>);
      return { ok: true };
    });
    await hook.listen({ host: '127.0.0.1', port: 0 });
    upstream = await startFakeResponsesUpstream(() => ({
      output: [{ type: 'message', text: 'ok' }],
      usage: { input_tokens: 10_000, cached_tokens: 2_000, output_tokens: 300 },
    }));
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    await hook?.close();
  });

  const start = async (reuse?: string) => {
    const address = hook.server.address();
    const webhook = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}/alerts`;
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy: policy(webhook),
      ...(reuse === undefined ? {} : { dataDir: reuse }),
    });
    dataDir = gatehouse.dataDir;
  };
  const turn = async (index: number) => {
    const response = await request(`${gatehouse.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': 'budget-session' },
      // ~10,000 tokens of input and an output cap above what the fake answers: the reservation is
      // an upper bound of the real cost, as it is for real traffic.
      body: JSON.stringify({ model: 'gpt-5.5', input: `turn ${index} ${'x'.repeat(40_000)}`, stream: false, max_output_tokens: 400 }),
    });
    const body = (await response.body.json()) as Record<string, unknown>;
    return { status: response.statusCode, stage: response.headers['x-gatehouse-budget-stage'], served: response.headers['x-gatehouse-served-model'], body };
  };

  it('walks ok → alert → downgrade → 429, alerting once per stage', async () => {
    await start();
    const seen: { status: number; stage: unknown; served: unknown }[] = [];
    let denial: Record<string, unknown> | undefined;
    for (let index = 0; index < 150 && denial === undefined; index++) {
      const result = await turn(index);
      seen.push({ status: result.status, stage: result.stage, served: result.served });
      if (result.status === 429) denial = result.body;
    }
    expect(seen.map((entry) => entry.stage).filter(Boolean)).toEqual(expect.arrayContaining(['ok', 'alert', 'downgrade']));
    expect(seen.find((entry) => entry.stage === 'downgrade')?.served).toBe('gpt-5.1-mini');
    expect(denial).toBeDefined();
    const error = (denial as { error: Record<string, unknown> }).error;
    expect(error.code).toBe('budget_exhausted');
    expect(String(error.message)).toContain('daily budget of developer alice (cost center platform) is exhausted');
    // Spend never passes the pause line (110% of $0.50).
    const [total] = await waitForRows<{ cost: number }>(gatehouse, `SELECT sum(cost_usd) AS cost FROM gatehouse.spans WHERE session_id = 'budget-session'`, 1);
    expect(Number(total!.cost)).toBeLessThanOrEqual(0.55 + 1e-9);
    expect(Number(total!.cost)).toBeGreaterThan(0.5);
    // Once more: still paused, and nothing is alerted twice.
    expect((await turn(99)).status).toBe(429);
    const deadline = Date.now() + 10_000;
    while (alerts.length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(alerts.map((alert) => alert.event).sort()).toEqual(['budget.alert', 'budget.downgrade', 'budget.pause']);
    expect(alerts.every((alert) => alert.cost_center === 'platform' && alert.developer === 'alice' && typeof alert.spend_usd === 'number')).toBe(true);
    const audit = await waitForRows<{ action: string; subject: string }>(
      gatehouse,
      `SELECT action, subject FROM gatehouse.audit_log WHERE action LIKE 'budget.%' ORDER BY action`,
      3,
    );
    expect(audit.map((row) => row.action)).toEqual(['budget.alert', 'budget.downgrade', 'budget.pause']);
    expect(audit.every((row) => /^dev:alice:daily:\d{4}-\d{2}-\d{2}$/.test(row.subject))).toBe(true);
  });

  it('after a restart the developer is still paused and no alert repeats', async () => {
    const before = alerts.length;
    await gatehouse.stop({ keepData: true });
    await start(dataDir);
    expect((await turn(100)).status).toBe(429);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(alerts.length).toBe(before);
  });

  it('report cache lists the session through the real /admin/sql', async () => {
    const out: string[] = [];
    const errors: string[] = [];
    const code = await main(['report', 'cache', '--below', '0.5', '--json', '--url', gatehouse.url, '--token', TEST_ANALYST_TOKEN], {
      out: (text) => void out.push(text),
      error: (text) => void errors.push(text),
    });
    expect(errors).toEqual([]);
    expect(code).toBe(0);
    const [session] = JSON.parse(out.join('')) as Record<string, unknown>[];
    expect(session).toMatchObject({ session_id: 'budget-session', developer: 'alice', hit_rate: 0.2 });
    expect(Number(session!.extra_usd)).toBeGreaterThan(0);
  });
});
