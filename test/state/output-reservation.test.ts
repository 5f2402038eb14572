import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { postTurn, simpleTurn, type GatewayAnswer } from '../e2e/helpers/e2e-client.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from './helpers/redis-helpers.ts';
import { DEFAULT_MAX_OUTPUT_TOKENS, modelOutputCap, outputReservation, requestOutputCap } from '../../gateway/accounting/output-reservation.ts';
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from '../../gateway/state/rate-limiter.ts';

/**
 * Issue 19 (catalog: "a budget estimate uses the model's real output cap"): admission reserves the input
 * estimate plus min(the request's output cap, the model's), for budgets and for tpm, and settles to the
 * real usage when the turn ends. Two concurrent long answers cannot overrun a tpm or a budget one fits.
 */

const PROVIDERS = { openai: { type: 'openai' }, claude: { type: 'anthropic' } };

describe('output reservation: min(request cap, model cap)', () => {
  it("takes the request's cap when it is smaller than the model's, in each protocol's field", () => {
    const model = { provider: 'openai', upstream: 'not-in-any-catalog', max_output_tokens: 8_000 };
    expect(outputReservation({ max_output_tokens: 1_000 }, model, PROVIDERS, 50)).toBe(1_000);
    expect(outputReservation({ max_completion_tokens: 2_000 }, model, PROVIDERS, 50)).toBe(2_000);
    expect(outputReservation({ max_tokens: 3_000 }, model, PROVIDERS, 50)).toBe(3_000);
    expect(outputReservation({ max_output_tokens: 50_000 }, model, PROVIDERS, 50)).toBe(8_000);
    expect(outputReservation({}, model, PROVIDERS, 50)).toBe(8_000);
    expect(requestOutputCap({ max_output_tokens: 0 })).toBeUndefined();
  });

  it('without a policy cap: the default, bounded by what the catalog context window leaves after the input', () => {
    expect(modelOutputCap({ provider: 'openai', upstream: 'not-in-any-catalog', price: { input: 1, output: 1 } }, 100)).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
    // gpt-5.5's catalog window is 1,000,000 tokens: a prompt that leaves 10,000 of it reserves 10,000.
    expect(modelOutputCap({ provider: 'openai', upstream: 'gpt-5.5' }, 990_000)).toBe(10_000);
    expect(modelOutputCap({ provider: 'openai', upstream: 'gpt-5.5' }, 1_000)).toBe(DEFAULT_MAX_OUTPUT_TOKENS);
  });

  it("an Anthropic upstream without a client cap reserves the max_tokens the gateway sends (default_max_output_tokens)", () => {
    const model = { provider: 'claude', upstream: 'claude-x', price: { input: 1, output: 1 }, default_max_output_tokens: 4_000, max_output_tokens: 64_000 };
    expect(outputReservation({}, model, PROVIDERS, 10)).toBe(4_000);
    expect(outputReservation({ max_tokens: 20_000 }, model, PROVIDERS, 10)).toBe(20_000);
  });
});

/** Both limiters: two reservations that each fit cannot both be in the minute; settling returns the unused part. */
async function checkLimiter(limiter: RateLimiter, id: string): Promise<void> {
  const scope = { id, label: id, limits: { tpm: 10_000 } };
  const now = 60_000 * 2_000 + 1_000;
  const first = await limiter.admit([scope], 6_000, now);
  expect(first.ok).toBe(true);
  expect(await limiter.admit([scope], 6_000, now + 1)).toMatchObject({ ok: false, limit: 'tpm' });
  // A request whose own cap is small still fits beside the first.
  const small = await limiter.admit([scope], 1_500, now + 2);
  expect(small.ok).toBe(true);
  if (!first.ok || !small.ok) return;
  limiter.settle([scope], first.reservation, 120, now + 3);
  limiter.settle([scope], small.reservation, 1_500, now + 3);
  // 120 + 1,500 used: 6,000 fits again (on Redis the settle pipeline and this script run in order on one connection).
  expect((await limiter.admit([scope], 6_000, now + 4)).ok).toBe(true);
  // A request larger than the whole limit runs only into an empty window.
  const empty = { id: `${id}-big`, label: 'big', limits: { tpm: 1_000 } };
  expect((await limiter.admit([empty], 5_000, now)).ok).toBe(true);
  expect((await limiter.admit([empty], 10, now + 1)).ok).toBe(false);
}

describe('tpm reservations in both rate limiters', () => {
  let redis: Redis;
  let prefix: string;
  beforeAll(() => {
    redis = new Redis(REDIS_URL, { lazyConnect: false, maxRetriesPerRequest: 1 });
    prefix = uniquePrefix('output-reservation');
  });
  afterAll(async () => {
    await deletePrefix(REDIS_URL, prefix);
    redis.disconnect();
  });

  it('memory', async () => checkLimiter(new MemoryRateLimiter(), 'key:mem'));
  it('Redis', async () =>
    checkLimiter(
      new RedisRateLimiter({
        redis,
        keyPrefix: prefix,
        onError: (error) => {
          throw error;
        },
      }),
      'key:redis',
    ));
});

describe('concurrent long answers through the gateway', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let folder: string;
  let release: () => void = () => {};
  let arrived: () => void = () => {};

  beforeAll(async () => {
    folder = mkdtempSync(join(tmpdir(), 'gatehouse-reserve-'));
    upstream = await startFakeResponsesUpstream((body) => {
      const hold = body.metadata !== undefined && (body.metadata as Record<string, unknown>).hold === 'yes';
      if (hold) arrived();
      return { output: [{ type: 'message', text: 'short answer' }], usage: { input_tokens: 100, output_tokens: 20 }, ...(hold ? { holdAfterFirstEvent: new Promise<void>((resolve) => (release = resolve)) } : {}) };
    });
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy: {
        // Output-only price, so a reservation is exactly its output tokens × $10 per million.
        models: { long: { provider: 'openai', upstream: 'long-model', price: { input: 0, output: 10 }, max_output_tokens: 8_000 } },
        cost_centers: {
          tokens: { allowed_models: ['long'], limits: { tpm: 10_000 } },
          money: { allowed_models: ['long'], budgets: { cost_center: { daily_usd: 0.1 } } },
        },
        keys: [
          { key: 'vk_tpm', developer: 'tina', cost_center: 'tokens' },
          { key: 'vk_budget', developer: 'bea', cost_center: 'money' },
        ],
      },
      dataDir: join(folder, 'data'),
    });
  });
  afterAll(async () => {
    release();
    await gatehouse?.stop();
    await upstream?.close();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  /** Starts a turn the upstream holds open after its first event, and resolves once the upstream has it. */
  async function startHeldTurn(key: string, extra: Record<string, unknown>): Promise<{ answer: Promise<GatewayAnswer> }> {
    const here = new Promise<void>((resolve) => (arrived = resolve));
    const answer = postTurn(gatehouse.url, key, simpleTurn('long', { metadata: { hold: 'yes' }, ...extra }));
    // Whichever comes first: the upstream holding the turn, or an answer that never reached it (a failure to show).
    const early = await Promise.race([here.then(() => undefined), answer]);
    if (early) throw new Error(`the held turn was answered before reaching the upstream: ${early.status} ${early.text}`);
    // Wrapped: an async function returning the promise itself would wait for the held answer.
    return { answer };
  }

  it('tpm: a second long answer waits while the first is in flight; a small cap fits beside it; settling frees the rest', async () => {
    const { answer: first } = await startHeldTurn('vk_tpm', {});
    // The first reserved ~8,000 of 10,000 (no cap: the model's 8,000); another uncapped one would overrun.
    const second = await postTurn(gatehouse.url, 'vk_tpm', simpleTurn('long'));
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('rate_limit_exceeded');
    expect(second.body.error.message).toContain('10,000 tokens per minute');
    expect(second.body.error.message).toMatch(/this request reserves 8,\d{3}/);
    // Its own cap is smaller than the model's: it reserves that, and fits.
    const capped = await postTurn(gatehouse.url, 'vk_tpm', simpleTurn('long', { max_output_tokens: 1_000 }));
    expect(capped.status).toBe(200);
    release();
    expect((await first).status).toBe(200);
    // Settled to 120 real tokens each: the next uncapped answer fits again within the same minute.
    const third = await postTurn(gatehouse.url, 'vk_tpm', simpleTurn('long'));
    expect(third.status).toBe(200);
  });

  it('budget: the second concurrent uncapped answer is refused instead of overrunning; after settling it is served', async () => {
    // pause at 110 % of $0.10 = $0.11; each uncapped turn reserves 8,000 × $10/M = $0.08 (4096 before: $0.041, two fitted).
    const { answer: first } = await startHeldTurn('vk_budget', {});
    const second = await postTurn(gatehouse.url, 'vk_budget', simpleTurn('long'));
    expect(second.status).toBe(429);
    expect(second.body.error.code).toBe('budget_exhausted');
    release();
    expect((await first).status).toBe(200);
    // The first cost $0.0002: the reservation's unused $0.0798 went back.
    expect((await postTurn(gatehouse.url, 'vk_budget', simpleTurn('long'))).status).toBe(200);
  });
});
