import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent, request } from 'undici';
import { Redis } from 'ioredis';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, TEST_KEY, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { freePort, OwnRedis } from '../state/helpers/redis-helpers.ts';
import { budgetScopesFor } from '../../gateway/state/budget-periods.ts';
import { sleep, waitUntil } from './helpers.ts';

/**
 * Distributed mode (redis.url set) against a redis-server this test owns on a free port — never
 * the machine's Redis. SIGKILL mid-traffic, restart empty (no persistence), traffic never stops.
 */
const STICKY_KEY = 'vk_sticky_redis';
let flakyFails = false;

describe('Redis killed and restarted during traffic (distributed mode)', () => {
  let gatehouse: TestGatehouse;
  let upstream: FakeResponsesUpstream;
  let server: OwnRedis;
  const prefix = 'gh-resilience:';
  const client = new Agent({ connections: 8 });
  // Exact micro-dollar costs: 40 input tokens at $1/M + 4 output at $4/M = $0.000056 per request.
  const price = { input: 1, cached_input: 0.1, output: 4 };
  const budgets = { developer: { daily_usd: 1_000 }, cost_center: { daily_usd: 5_000 } };

  beforeAll(async () => {
    server = new OwnRedis(await freePort());
    await server.start();
    upstream = await startFakeResponsesUpstream((body) =>
      body.model === 'flaky' && flakyFails ? { output: [], fail: { status: 500 } } : { output: [{ type: 'message', text: `ok from ${String(body.model)}` }], usage: { input_tokens: 40, output_tokens: 4 }, delayMillis: 5 },
    );
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy: {
        models: { 'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price }, flaky: { provider: 'openai', upstream: 'flaky', price }, backup: { provider: 'openai', upstream: 'backup', price } },
        cost_centers: {
          platform: { allowed_models: ['gpt-5.5'], budgets },
          sticky: { allowed_models: ['flaky', 'backup'], budgets, fallback: { flaky: ['backup'] }, affinity_seconds: 1 },
        },
        keys: [
          { key: TEST_KEY, developer: 'alice', cost_center: 'platform' },
          { key: STICKY_KEY, developer: 'bob', cost_center: 'sticky' },
        ],
      },
      extraConfig: { redis: { url: server.url, key_prefix: prefix, on_unavailable: 'open' } },
    });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    await server?.kill();
    await client.close();
  });

  it('serves every request through the outage, reconnects, and Redis spend equals the spans afterwards', async () => {
    const statuses: number[] = [];
    const errors: string[] = [];
    let sent = 0;
    // Progress, not wall time, decides each phase (a loaded machine serves fewer requests per second).
    const deadline = Date.now() + 90_000;
    let stop = false;
    const worker = async () => {
      while (!stop && sent < 2_000 && Date.now() < deadline) {
        const index = sent++;
        try {
          const response = await request(`${gatehouse.url}/v1/responses`, {
            method: 'POST',
            dispatcher: client,
            headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_KEY}`, 'x-session-id': `redis-${index}` },
            body: JSON.stringify({ model: 'gpt-5.5', input: `turn ${index}`, stream: true, max_output_tokens: 100 }),
          });
          const text = await response.body.text();
          statuses.push(response.statusCode);
          if (response.statusCode !== 200 || !text.includes('response.completed')) errors.push(`${response.statusCode} ${text.slice(0, 200)}`);
        } catch (error) {
          errors.push((error as Error).message);
        }
      }
    };
    const traffic = Promise.all(Array.from({ length: 6 }, worker));

    await waitUntil(() => statuses.length > 20, 30_000);
    const beforeKill = statuses.length;
    await server.kill();
    await waitUntil(() => statuses.length - beforeKill > 20, 30_000);
    const duringOutage = statuses.length - beforeKill;
    const metricsDuringOutage = await (await fetch(`${gatehouse.url}/metrics`)).text();
    await server.start();
    const afterRestart = statuses.length;
    await waitUntil(() => statuses.length - afterRestart > 20, 30_000);
    stop = true;
    await traffic;

    expect(errors).toEqual([]);
    expect(beforeKill).toBeGreaterThan(20);
    expect(duringOutage).toBeGreaterThan(20);
    expect(statuses.every((status) => status === 200)).toBe(true);
    expect((await fetch(`${gatehouse.url}/healthz`)).status).toBe(200);

    // Afterwards: Redis holds exactly the spend of every span (restored + replayed, counted once).
    const spans = await waitForRows<{ n: number; micros: number }>(gatehouse, `SELECT count() AS n, toInt64(round(sum(cost_usd) * 1000000)) AS micros FROM gatehouse.spans WHERE session_id LIKE 'redis-%' HAVING n >= ${statuses.length}`, 1, 20_000);
    expect(Number(spans[0]?.n)).toBe(statuses.length);
    expect(Number(spans[0]?.micros)).toBe(statuses.length * 56);
    const scopes = budgetScopesFor({ developer: 'alice', costCenter: 'platform', keyId: 'unused', policyCostCenter: { budgets }, now: Date.now() });
    const redis = new Redis(server.url);
    try {
      let last: { scope: string; spend: number; reserved: number }[] = [];
      const consistent = await waitUntil(async () => {
        last = [];
        for (const scope of scopes) {
          const [spend, reserved] = await redis.hmget(`${prefix}budget:${scope.id}`, 's', 'r');
          last.push({ scope: scope.id, spend: Number(spend ?? 0), reserved: Number(reserved ?? 0) });
        }
        return last.every((entry) => entry.spend === statuses.length * 56 && entry.reserved === 0);
      }, 10_000, 200);
      expect(last).toEqual(scopes.map((scope) => ({ scope: scope.id, spend: statuses.length * 56, reserved: 0 })));
      expect(consistent).toBe(true);
    } finally {
      redis.disconnect();
    }
    console.log(`[resilience] Redis restart: ${statuses.length} requests, ${duringOutage} answered while Redis was down, all 200; degraded gauge during outage: ${/gatehouse_budget_ledger_degraded\S* (\d)/.exec(metricsDuringOutage)?.[1] ?? 'n/a'}`);
  });

  it('affinity lives in Redis: the session sticks to the fallback for affinity_seconds, then returns', async () => {
    const post = async () => {
      const response = await request(`${gatehouse.url}/v1/responses`, {
        method: 'POST',
        dispatcher: client,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${STICKY_KEY}`, 'x-session-id': 'sticky-session' },
        body: JSON.stringify({ model: 'flaky', input: 'hi', stream: true }),
      });
      const text = await response.body.text();
      expect(response.statusCode).toBe(200);
      return { served: String(response.headers['x-gatehouse-served-model']), text };
    };
    const flakyRequests = () => upstream.requests.filter((entry) => entry.body.model === 'flaky').length;
    flakyFails = true;
    expect((await post()).served).toBe('backup');
    expect(flakyRequests()).toBe(1);
    const redis = new Redis(server.url);
    try {
      const key = `${prefix}affinity:sticky-session\u001fflaky`;
      expect(await redis.get(key)).toBe('backup');
      expect(await redis.pttl(key)).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
    flakyFails = false;
    expect((await post()).served).toBe('backup');
    expect(flakyRequests()).toBe(1);
    await sleep(1_150);
    expect((await post()).served).toBe('flaky');
    expect(flakyRequests()).toBe(2);
  });
});
