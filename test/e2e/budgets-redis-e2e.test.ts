import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../state/helpers/redis-helpers.ts';
import { postTurn, simpleTurn, startAlertReceiver, waitUntil, type AlertReceiver } from './helpers/e2e-client.ts';
import { startGatewaysOnRedis, type GatehouseProcess } from './helpers/gatehouse-process.ts';

/**
 * Issue 5, distributed: two gateway processes (each with its own chDB data dir) share spend through
 * real Redis. 64 concurrent requests split over both against a budget that allows 10.
 */

const KEY = 'vk_redis_crowd';
/** Another developer (own budget): warms both processes up so the race is between equals. */
const WARM_KEY = 'vk_redis_warm';
const policy = (webhookUrl: string) => ({
  models: { flat: { provider: 'openai', upstream: 'flat-upstream', price: { input: 0, output: 100 } } },
  cost_centers: { crowd: { allowed_models: ['flat'], budgets: { developer: { daily_usd: 1 } }, stages: { alert: 0.8, downgrade: 0.95, pause: 1 } } },
  keys: [
    { key: KEY, developer: 'dora', cost_center: 'crowd' },
    { key: WARM_KEY, developer: 'wendy', cost_center: 'crowd' },
  ],
  alerts: { webhook_url: webhookUrl },
});

describe('two gateway processes share one budget through Redis', () => {
  let upstream: FakeResponsesUpstream;
  let folder: string;
  let prefix: string;
  let receiver: AlertReceiver;
  const gateways: GatehouseProcess[] = [];

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'flat' }], usage: { input_tokens: 300, output_tokens: 1_000 }, delayMillis: 100 }));
    receiver = await startAlertReceiver();
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-redis-e2e-'));
    prefix = uniquePrefix('e2e-budgets');
    gateways.push(
      ...(await startGatewaysOnRedis({
        folder,
        names: ['a', 'b'],
        redisUrl: REDIS_URL,
        keyPrefix: prefix,
        providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
        policy: policy(receiver.url),
      })),
    );
  }, 90_000);
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await upstream?.close();
    await receiver?.close();
    if (prefix) await deletePrefix(REDIS_URL, prefix);
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('64 concurrent requests over both gateways: 10 served, spend never passes the pause line', async () => {
    const [a, b] = gateways as [GatehouseProcess, GatehouseProcess];
    const body = { ...simpleTurn('flat'), max_output_tokens: 1_000 }; // reserves $0.10, costs $0.10
    for (const gateway of gateways) expect((await postTurn(gateway.url, WARM_KEY, body)).status).toBe(200);
    const warmUpRequests = upstream.requests.length;
    const answers = await Promise.all(Array.from({ length: 64 }, (_, index) => postTurn(index % 2 === 0 ? a.url : b.url, KEY, body)));
    const statuses = answers.map((answer) => (answer.status === 429 ? String(answer.body.error.code) : String(answer.status)));
    const served = statuses.filter((status) => status === '200').length;
    expect(served + statuses.filter((status) => status === 'budget_exhausted').length).toBe(64);
    const servedBy = [a, b].map((gateway) => answers.filter((answer, index) => answer.status === 200 && (index % 2 === 0) === (gateway === a)).length);
    console.info(`[redis-e2e] served by a: ${servedBy[0]}, by b: ${servedBy[1]}; upstream requests: ${upstream.requests.length - warmUpRequests}`);
    expect(upstream.requests.length - warmUpRequests).toBe(served);

    // Spans live in each process's own ClickHouse: add them up over both.
    const totals = async () => {
      const rows = await Promise.all(gateways.map((gateway) => gateway.query<{ spend: number; n: number }>(`SELECT sum(cost_usd) AS spend, count() AS n FROM gatehouse.spans WHERE developer = 'dora'`)));
      return { spend: rows.reduce((sum, [row]) => sum + Number(row?.spend ?? 0), 0), n: rows.reduce((sum, [row]) => sum + Number(row?.n ?? 0), 0) };
    };
    let total = { spend: 0, n: 0 };
    await waitUntil('64 spans over both gateways', async () => (total = await totals()).n >= 64, 15_000, 200).catch((error: Error) => {
      throw new Error(`${error.message}; saw ${JSON.stringify(total)}`);
    });
    console.info(`[redis-e2e] spend over both gateways: $${total.spend.toFixed(6)} (pause line $1.00)`);
    expect(total.n).toBe(64);
    // A replica that lost Redis for a moment (logged as "budget ledger degraded") may admit on its
    // local counters (docs/RESILIENCE.md); only then is the bound per replica.
    const degraded = gateways.filter((gateway) => gateway.output().includes('budget ledger degraded')).length;
    if (degraded === 0) {
      expect(served).toBe(10);
      expect(total.spend).toBeLessThanOrEqual(1.0 + 1e-9);
      expect(total.spend).toBeCloseTo(1.0, 9);
    } else {
      console.info(`[redis-e2e] ${degraded} replica(s) ran degraded (Redis reply over 250 ms): served ${served}, spend $${total.spend}`);
      expect(total.spend).toBeLessThanOrEqual(1.0 * (1 + degraded) + 1e-9);
    }

    // Both processes raced past every threshold; the "already reported" flags live in Redis, so each
    // stage reaches the webhook once in all.
    await waitUntil('alerts', () => ['budget.alert', 'budget.downgrade', 'budget.pause'].every((event) => receiver.alerts.some((alert) => alert.event === event)));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const doraAlerts = receiver.alerts.filter((alert) => alert.developer === 'dora').map((alert) => String(alert.event)).sort();
    // On a starved machine a Redis reply can miss the 250 ms command timeout; the replica then
    // decides locally for a second and may report a stage itself (docs/RESILIENCE.md, at most once
    // per replica). That is logged as "budget ledger degraded"; only then is a second copy allowed.
    console.info(`[redis-e2e] alerts for dora: ${doraAlerts.join(', ')} (${receiver.deliveries} deliveries in all, redeliveries dropped by event id)`);
    for (const event of ['budget.alert', 'budget.downgrade', 'budget.pause']) {
      const copies = doraAlerts.filter((name) => name === event).length;
      expect(copies, doraAlerts.join(', ')).toBeGreaterThanOrEqual(1);
      expect(copies, doraAlerts.join(', ')).toBeLessThanOrEqual(1 + degraded);
    }

    // Either gateway now refuses: the spend is shared.
    for (const gateway of gateways) {
      const answer = await postTurn(gateway.url, KEY, body);
      expect(answer.status).toBe(429);
      if (degraded === 0) expect(answer.body.error.message).toContain('$1.00 spent of $1.00');
    }
  });
});
