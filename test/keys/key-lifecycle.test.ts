import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IncomingMessage } from 'node:http';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, TEST_ANALYST_TOKEN, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, postTurn, simpleTurn } from '../e2e/helpers/e2e-client.ts';
import { startGatewaysOnRedis, type GatehouseProcess } from '../e2e/helpers/gatehouse-process.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from '../state/helpers/redis-helpers.ts';
import { runCodex } from '../helpers/run-codex.ts';
import { MemoryRateLimiter } from '../../gateway/state/rate-limiter.ts';

/**
 * Issue 19 (key lifecycle and rate limits): PATCH, expiry, rotation with a grace period, models narrower
 * than the cost center, rpm/tpm per key and per cost center — embedded, across two gateways on Redis,
 * and seen by the real Codex CLI after one request.
 */
const MODELS = {
  'gpt-5.5': { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1, output: 1 } },
  'gpt-5.1-mini': { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.1, output: 0.1 } },
};
const policy = {
  models: MODELS,
  cost_centers: {
    platform: { allowed_models: ['gpt-5.5', 'gpt-5.1-mini'] },
    limited: { allowed_models: ['gpt-5.5'], limits: { rpm: 3 } },
    shared: { allowed_models: ['gpt-5.5'], limits: { cost_center: { rpm: 4 } } },
  },
  keys: [
    { key: 'vk_boot_limited', developer: 'lena', cost_center: 'limited' },
    { key: 'vk_codex_rpm', developer: 'cody', cost_center: 'limited' },
  ],
};
// chDB binds one data directory per process: both embedded gateways of this file open this one, in turn.
const DATA_DIR = join(mkdtempSync(join(tmpdir(), 'gatehouse-keys-')), 'data');
const adminAs = (url: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown) => admin(url, method, path, body);
async function patch(url: string, path: string, body: unknown, token = 'test-admin-token-0123456789') {
  const response = await fetch(`${url}${path}`, { method: 'PATCH', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

describe('key lifecycle (embedded)', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 50, output_tokens: 5 } }));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy, dataDir: DATA_DIR });
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('create with expiry, models, limits and budgets; PATCH narrows models and changes tags; nothing widens past the cost center', async () => {
    const expires = new Date(Date.now() + 86_400_000).toISOString();
    const created = await adminAs(gatehouse.url, 'POST', '/admin/keys', { developer: 'kim', cost_center: 'platform', expires_at: expires, allowed_models: ['gpt-5.5', 'gpt-5.1-mini'], limits: { rpm: 100 }, budgets: { daily_usd: 5 }, tags: ['team:web'] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ expires_at: expires, allowed_models: ['gpt-5.5', 'gpt-5.1-mini'], limits: { rpm: 100 }, budgets: { daily_usd: 5 }, tags: ['team:web'] });
    const key = created.body.key as string;
    expect((await postTurn(gatehouse.url, key, simpleTurn('gpt-5.1-mini'))).status).toBe(200);

    const narrowed = await patch(gatehouse.url, `/admin/keys/${created.body.id}`, { allowed_models: ['gpt-5.5'], tags: ['team:api'] });
    expect(narrowed.status).toBe(200);
    expect(narrowed.body).toMatchObject({ allowed_models: ['gpt-5.5'], tags: ['team:api'] });
    const refused = await postTurn(gatehouse.url, key, simpleTurn('gpt-5.1-mini'));
    expect(refused.status).toBe(403);
    expect(refused.body.error.code).toBe('model_not_allowed');
    expect(refused.body.error.message).toContain('may use only gpt-5.5');
    expect((await postTurn(gatehouse.url, key, simpleTurn('gpt-5.5'))).status).toBe(200);
    const listed = (await (await fetch(`${gatehouse.url}/v1/models`, { headers: { authorization: `Bearer ${key}` } })).json()) as { data: { id: string }[] };
    expect(listed.data.map((model) => model.id)).toEqual(['gpt-5.5']);

    const widened = await patch(gatehouse.url, `/admin/keys/${created.body.id}`, { allowed_models: ['o3-pro'] });
    expect(widened.status).toBe(400);
    expect(widened.body.error.message).toContain('may only narrow cost center "platform"');
    expect((await patch(gatehouse.url, `/admin/keys/${created.body.id}`, { expires_at: '2020-01-01T00:00:00Z' })).status).toBe(400);
    const wideAtCreate = await adminAs(gatehouse.url, 'POST', '/admin/keys', { developer: 'kim', cost_center: 'platform', allowed_models: ['gpt-5.5', 'o3-pro'] });
    expect(wideAtCreate.status).toBe(400);
    expect(wideAtCreate.body.error.message).toContain('not allowed there: o3-pro');
    // An analyst reads the listing (no secrets, no hashes) but cannot change a key.
    expect((await patch(gatehouse.url, `/admin/keys/${created.body.id}`, { tags: [] }, TEST_ANALYST_TOKEN)).status).toBe(403);
    const listing = await admin(gatehouse.url, 'GET', '/admin/keys', undefined, TEST_ANALYST_TOKEN);
    expect(listing.status).toBe(200);
    expect(JSON.stringify(listing.body)).not.toContain(key);
    expect(JSON.stringify(listing.body)).not.toMatch(/"(key_sha256|hash)"/);
  });

  it('an expired key answers 401 saying it expired and when; extending it brings it back', async () => {
    const created = await adminAs(gatehouse.url, 'POST', '/admin/keys', { developer: 'eva', cost_center: 'platform', expires_at: new Date(Date.now() + 1_500).toISOString() });
    const key = created.body.key as string;
    expect((await postTurn(gatehouse.url, key, simpleTurn('gpt-5.5'))).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, Date.parse(created.body.expires_at) - Date.now() + 20)));
    const expired = await postTurn(gatehouse.url, key, simpleTurn('gpt-5.5'));
    expect(expired.status).toBe(401);
    expect(expired.body.error.message).toMatch(/expired at \d{4}-\d\d-\d\dT/);
    expect((await patch(gatehouse.url, `/admin/keys/${created.body.id}`, { expires_at: null })).status).toBe(200);
    expect((await postTurn(gatehouse.url, key, simpleTurn('gpt-5.5'))).status).toBe(200);
  });

  it('rotation: a new secret at once, the old one valid for the grace period only, both audited', async () => {
    const created = await adminAs(gatehouse.url, 'POST', '/admin/keys', { developer: 'rob', cost_center: 'platform' });
    const oldKey = created.body.key as string;
    const rotated = await adminAs(gatehouse.url, 'POST', `/admin/keys/${created.body.id}/rotate`, { grace_seconds: 3600 });
    expect(rotated.status).toBe(200);
    const newKey = rotated.body.key as string;
    expect(newKey).not.toBe(oldKey);
    expect((await postTurn(gatehouse.url, newKey, simpleTurn('gpt-5.5'))).status).toBe(200);
    expect((await postTurn(gatehouse.url, oldKey, simpleTurn('gpt-5.5'))).status).toBe(200);
    // No grace: the previous secret (now the one from the first rotation) stops at once.
    const again = await adminAs(gatehouse.url, 'POST', `/admin/keys/${created.body.id}/rotate`, { grace_seconds: 0 });
    expect((await postTurn(gatehouse.url, newKey, simpleTurn('gpt-5.5'))).body.error?.message).toMatch(/was rotated and its grace period ended/);
    expect((await postTurn(gatehouse.url, oldKey, simpleTurn('gpt-5.5'))).status).toBe(401);
    expect((await postTurn(gatehouse.url, again.body.key as string, simpleTurn('gpt-5.5'))).status).toBe(200);
    const boot = (await admin(gatehouse.url, 'GET', '/admin/keys')).body.keys.find((key: { developer: string }) => key.developer === 'lena');
    expect((await adminAs(gatehouse.url, 'POST', `/admin/keys/${boot.id}/rotate`, {})).status).toBe(400);
  });

  it('rpm per developer key from the policy: the fourth request in a minute gets a structured 429 with Retry-After', async () => {
    const answers = [];
    for (let index = 0; index < 4; index += 1) answers.push(await postTurn(gatehouse.url, 'vk_boot_limited', simpleTurn('gpt-5.5')));
    expect(answers.slice(0, 3).map((answer) => answer.status)).toEqual([200, 200, 200]);
    expect(answers[3]!.status).toBe(429);
    expect(answers[3]!.body.error.code).toBe('rate_limit_exceeded');
    expect(answers[3]!.body.error.message).toMatch(/rate limit of developer lena's key .* 3 requests per minute .*model "gpt-5.5".*Retry in \d+ s/);
    expect(Number(answers[3]!.headers['retry-after'])).toBeGreaterThan(0);
  });
});

describe('rate windows', () => {
  it('slide: the previous minute counts for the share of it still inside the last 60 s; tpm counts tokens', async () => {
    const limiter = new MemoryRateLimiter();
    const scope = { id: 'key:a', label: 'a', limits: { rpm: 10, tpm: 1_000 } };
    const start = 60_000 * 1_000;
    for (let index = 0; index < 10; index += 1) expect((await limiter.admit([scope], 10, start + 59_000)).ok).toBe(true);
    expect((await limiter.admit([scope], 10, start + 59_500)).ok).toBe(false);
    // 30 s into the next minute half of the previous minute's 10 requests still count: 5 more fit.
    let admitted = 0;
    for (let index = 0; index < 10; index += 1) if ((await limiter.admit([scope], 0, start + 90_000)).ok) admitted += 1;
    expect(admitted).toBe(5);
    const tokens = { id: 'key:b', label: 'b', limits: { tpm: 1_000 } };
    const reserved = await limiter.admit([tokens], 900, start);
    if (!reserved.ok) throw new Error('not admitted');
    limiter.settle([tokens], reserved.reservation, 1_100, start);
    expect(await limiter.admit([tokens], 10, start + 1)).toMatchObject({ ok: false, limit: 'tpm' });
  });
});

describe('rate limits hold across two gateways on Redis', () => {
  let upstream: FakeResponsesUpstream;
  let folder: string;
  let prefix: string;
  const gateways: GatehouseProcess[] = [];
  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'ok' }], usage: { input_tokens: 10, output_tokens: 1 } }));
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-rate-redis-'));
    prefix = uniquePrefix('rate');
    gateways.push(
      ...(await startGatewaysOnRedis({
        folder,
        names: ['a', 'b'],
        redisUrl: REDIS_URL,
        keyPrefix: prefix,
        providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
        policy: { ...policy, keys: [{ key: 'vk_shared_1', developer: 'sam', cost_center: 'shared' }, { key: 'vk_shared_2', developer: 'sue', cost_center: 'shared' }] },
      })),
    );
  }, 90_000);
  afterAll(async () => {
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    await upstream?.close();
    if (prefix) await deletePrefix(REDIS_URL, prefix);
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  it('a cost center limit of 4 rpm admits 4 of 10 requests spread over both gateways and two developers', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 10; index += 1) {
      const gateway = gateways[index % 2]!;
      statuses.push((await postTurn(gateway.url, index % 3 === 0 ? 'vk_shared_1' : 'vk_shared_2', simpleTurn('gpt-5.5'))).status);
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(4);
    expect(statuses.filter((status) => status === 429)).toHaveLength(6);
  });
});

describe('Codex CLI over its rate limit', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let workdir: string;
  let received = 0;
  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream(() => ({ output: [{ type: 'message', text: 'fine' }], usage: { input_tokens: 100, output_tokens: 5 } }));
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } }, policy, dataDir: DATA_DIR });
    gatehouse.app.server.on('request', (request: IncomingMessage) => {
      if ((request.url ?? '').startsWith('/v1/responses')) received += 1;
    });
    workdir = mkdtempSync(join(tmpdir(), 'codex-rpm-'));
  });
  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    if (workdir) rmSync(workdir, { recursive: true, force: true });
  });

  it('shows the rate-limit message after one request', async () => {
    for (let index = 0; index < 3; index += 1) expect((await postTurn(gatehouse.url, 'vk_codex_rpm', simpleTurn('gpt-5.5'))).status).toBe(200);
    const before = received;
    const run = await runCodex({ gatewayUrl: gatehouse.url, workdir, prompt: 'add a test', model: 'gpt-5.5', key: 'vk_codex_rpm' });
    const terminal = run.stdout + run.stderr;
    expect(terminal).toMatch(/rate limit of developer cody's key .* 3 requests per minute/);
    expect(received - before).toBeLessThanOrEqual(2);
  });
});
