import { mkdtempSync, rmSync } from 'node:fs';
import { Redis } from 'ioredis';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { spanRow } from '../helpers/span-row.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../state/helpers/redis-helpers.ts';
import { postTurn, simpleTurn, waitUntil } from './helpers/e2e-client.ts';
import { startGatewaysOnRedis, type GatehouseProcess } from './helpers/gatehouse-process.ts';
import { clickhouseTime } from '../../optimizer/optimizer-queries.ts';
import { sessionDraw } from '../../shared/policy/optimizer-settings.ts';
import type { ExplorationPlan } from '../../shared/exploration/exploration-plan.ts';

/**
 * Distributed mode: an optimizer replica (its own process role, reading its ClickHouse) publishes the
 * plan through Redis; two gateway processes apply the same plan to the same sessions, from memory; and
 * when the plan expires (the optimizer stopped publishing), both stop exploring.
 */

const SHARE = 0.05;
const policy = {
  models: {
    'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1.25, cached_input: 0.125, output: 10 } },
    'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, cached_input: 0.025, output: 2 } },
  },
  cost_centers: { platform: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini'], optimizer: { exploration_share: SHARE } } },
  keys: [{ key: 'vk_dist', developer: 'erin', cost_center: 'platform' }],
};
const sessions = Array.from({ length: 4000 }, (_, index) => `dist-${index.toString(36)}`);
const drawn = sessions.filter((id) => sessionDraw('exploration:platform', id) < SHARE).slice(0, 6);
const notDrawn = sessions.filter((id) => sessionDraw('exploration:platform', id) >= SHARE).slice(0, 6);

describe('exploration plans reach every gateway through Redis', () => {
  let upstream: FakeResponsesUpstream;
  let folder: string;
  const prefix = uniquePrefix('exploration-e2e');
  let gateways: GatehouseProcess[] = [];
  let optimizer: TestGatehouse;

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 10_000, output_tokens: 500 } }));
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-exploration-redis-'));
    const providers = { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } };
    gateways = await startGatewaysOnRedis({ folder, names: ['a', 'b'], redisUrl: REDIS_URL, keyPrefix: prefix, providers, policy });
  }, 120_000);
  afterAll(async () => {
    await optimizer?.stop();
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await upstream?.close();
    await deletePrefix(REDIS_URL, prefix);
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  const served = async (gateway: GatehouseProcess, sessionId: string) => {
    const answer = await postTurn(gateway.url, 'vk_dist', simpleTurn('gpt-5.5', { reasoning: { effort: 'high' } }), { 'x-session-id': sessionId });
    expect(answer.status, answer.text).toBe(200);
    const effort = (upstream.requests[upstream.requests.length - 1]?.body.reasoning as { effort?: string } | undefined)?.effort;
    return `${String(answer.headers['x-gatehouse-served-model'])}@${effort}`;
  };

  it('both gateways apply the plan the optimizer replica published, to the same sessions, until it expires', async () => {
    // Nothing published yet: both serve as asked.
    for (const gateway of gateways) expect(await served(gateway, drawn[0] as string)).toBe('gpt-5.5@high');

    // The optimizer replica: BullMQ jobs, its own ClickHouse with the cost center's history (gpt-5.5
    // asked at effort high, served as asked), plans that live 30 s without a newer run.
    optimizer = await startTestGatehouse({
      roles: ['optimizer'],
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy,
      extraConfig: { redis: { url: REDIS_URL, key_prefix: prefix }, system_key_file: join(folder, 'system-key.pem') },
      configure: (config) => void (config.optimizer.exploration_ttl_seconds = 30),
    });
    const ts = clickhouseTime(new Date(Date.now() - 3_600_000));
    const rows = Array.from({ length: 40 }, (_, index) =>
      spanRow({ ts, request_id: `hist_${index}`, session_id: `hist_s${index}`, turn_id: `hist_${index}`, cost_center: 'platform', requested_model: 'gpt-5.5', served_model: 'gpt-5.5', reasoning_effort: 'high', requested_reasoning_effort: 'high', rule_id: '', experiment_arm: '' }),
    );
    await optimizer.clickhouse.insert({ table: 'gatehouse.spans', values: rows, format: 'JSONEachRow' });
    const run = await optimizer.optimizer?.run({ costCenter: 'platform' });
    const plan = run?.exploration[0]?.plan as ExplorationPlan;
    expect(plan).toMatchObject({ costCenter: 'platform', requestedModel: 'gpt-5.5', routeTo: 'gpt-5.1-mini', reasoningEffort: 'low' });
    // Pub/sub carries it: wait until each gateway applies it (the event is the first explored turn).
    for (const gateway of gateways) await waitUntil('the plan on the gateway', async () => (await served(gateway, drawn[0] as string)) === 'gpt-5.1-mini@low', 10_000, 50);

    for (const gateway of gateways) {
      for (const sessionId of drawn) expect(await served(gateway, sessionId)).toBe('gpt-5.1-mini@low');
      for (const sessionId of notDrawn) expect(await served(gateway, sessionId)).toBe('gpt-5.5@high');
    }
    const spans = await Promise.all(gateways.map((gateway) => gateway.query<{ n: string }>(`SELECT count() AS n FROM gatehouse.spans WHERE experiment_arm = 'exploration' AND reasoning_effort = 'low' AND served_model = 'gpt-5.1-mini'`)));
    for (const [rows] of spans) expect(Number(rows?.n)).toBeGreaterThanOrEqual(drawn.length);

    // The optimizer stops publishing: the plan ends at its expiresAt on both gateways, no notice needed.
    // (Its scheduled job may have published once more after the run above: the last plan's end counts.)
    await optimizer.stop();
    const redis = new Redis(REDIS_URL);
    const held = await redis.get(optimizer.explorationBoard.keyOf('platform'));
    redis.disconnect();
    const end = Math.max(plan.expiresAt as number, held ? (JSON.parse(held) as ExplorationPlan).expiresAt ?? 0 : 0);
    expect(end - Date.now()).toBeLessThan(30_000);
    while (Date.now() <= end) await new Promise((resolve) => setTimeout(resolve, 100)); // the clock passing the plan's end is the event
    for (const gateway of gateways) for (const sessionId of drawn) expect(await served(gateway, sessionId)).toBe('gpt-5.5@high');
  }, 180_000);
});
