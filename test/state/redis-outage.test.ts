import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { budgetScopesFor, type BudgetScope } from '../../gateway/state/budget-periods.ts';
import { createStateRedis } from '../../gateway/state/create-state-redis.ts';
import { RedisBudgetLedger } from '../../gateway/state/redis-budget-ledger.ts';
import { RedisAffinityStore } from '../../gateway/state/redis-affinity-store.ts';
import { affinityKeyFor } from '../../gateway/state/affinity-store.ts';
import { GatewayError } from '../../gateway/errors/gateway-error.ts';
import { freePort, OwnRedis, waitFor } from './helpers/redis-helpers.ts';

const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scopesFor(daily: number): BudgetScope[] {
  return budgetScopesFor({
    developer: 'alice',
    costCenter: 'platform',
    keyId: 'key_1',
    policyCostCenter: { budgets: { developer: { daily_usd: daily } } },
    now: Date.now(),
  });
}

function ledgerOn(url: string, onUnavailable: 'open' | 'closed', errors: unknown[] = []) {
  const redis = createStateRedis(url, { commandTimeoutMillis: 300, maxReconnectDelayMillis: 100 });
  const affinity = new RedisAffinityStore({ redis, keyPrefix: 'gh:' });
  const ledger = new RedisBudgetLedger({
    redis,
    keyPrefix: 'gh:',
    onUnavailable,
    affinity,
    retryAfterFailureMillis: 100,
    onError: (error) => errors.push(error),
  });
  cleanups.push(async () => {
    await ledger.close();
    redis.disconnect();
  });
  return { redis, ledger, affinity };
}

describe('RedisBudgetLedger when Redis is unreachable', () => {
  it('nothing listening: open admits on local counters and still pauses; closed refuses with a 503', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const { ledger: open, affinity } = ledgerOn(url, 'open');
    const { ledger: closed } = ledgerOn(url, 'closed');
    await open.ready(300);
    const scopes = scopesFor(1);
    const started = performance.now();
    const results = [];
    for (let index = 0; index < 15; index++) {
      const result = await open.reserve({ requestId: `o${index}`, scopes, estimateUsd: 0.1, stages });
      results.push(result);
      if (result.admitted) await open.settle({ requestId: `o${index}`, scopes, estimateUsd: 0.1, actualUsd: 0.1 });
    }
    expect(performance.now() - started).toBeLessThan(100); // no waiting on a dead Redis
    expect(results.filter((result) => result.admitted)).toHaveLength(11);
    expect(results.every((result) => result.degraded === true)).toBe(true);
    expect(open.stats()).toMatchObject({ degraded: true, pendingScopes: 1 });
    await affinity.set('s', 'gpt-5.5', 'fallback-model', 60);
    expect(await affinity.get('s', 'gpt-5.5')).toBe('fallback-model');
    expect((await open.reserve({ requestId: 'aff', scopes: [], estimateUsd: 0, stages, affinityKey: affinityKeyFor('s', 'gpt-5.5') })).affinity).toBe(
      'fallback-model',
    );
    const refusal = await closed.reserve({ requestId: 'c1', scopes, estimateUsd: 0.1, stages }).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(GatewayError);
    expect(refusal).toMatchObject({ code: 'not_ready', status: 503, retryable: true });
    expect((refusal as Error).message).toContain('redis.on_unavailable: closed');
    // No budget applies: nothing to account for, so even a closed ledger lets it through.
    expect(await closed.reserve({ requestId: 'c0', scopes: [], estimateUsd: 0.1, stages, affinityKey: 'k' })).toMatchObject({ admitted: true, degraded: true });
    await expect(closed.settle({ requestId: 'c1', scopes, estimateUsd: 0.1, actualUsd: 0.05 })).resolves.toBeUndefined();
    expect(closed.stats().pendingScopes).toBe(1);
  });

  describe('a Redis this test starts, kills and restarts (no persistence)', () => {
    let server: OwnRedis;
    beforeAll(async () => {
      server = new OwnRedis(await freePort());
      await server.start();
    });
    afterAll(async () => {
      await server.kill();
    });

    it('a hung Redis costs one command timeout, then local counters; the late reservation is released on settle', async () => {
      const errors: unknown[] = [];
      const { ledger } = ledgerOn(server.url, 'open', errors);
      await ledger.ready(5000);
      const scopes = scopesFor(10);
      await ledger.reserve({ requestId: 'warm', scopes: [], estimateUsd: 0, stages, affinityKey: 'x' }); // loads the script
      const blocker = new Redis(server.url);
      cleanups.push(() => void blocker.disconnect());
      // Connected first: on a loaded machine a fresh connection could take longer than the pause below.
      await blocker.ping();
      void blocker.debug('SLEEP', '1').catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      const started = performance.now();
      const result = await ledger.reserve({ requestId: 'hung', scopes, estimateUsd: 2, stages });
      const waited = performance.now() - started;
      expect(result).toMatchObject({ admitted: true, degraded: true });
      expect(waited).toBeGreaterThanOrEqual(250);
      expect(waited).toBeLessThan(900);
      expect(errors).toHaveLength(1);
      // Within retryAfterFailureMillis the next request does not wait at all.
      const quick = performance.now();
      expect(await ledger.reserve({ requestId: 'next', scopes, estimateUsd: 1, stages })).toMatchObject({ degraded: true });
      expect(performance.now() - quick).toBeLessThan(20);
      await ledger.settle({ requestId: 'next', scopes, estimateUsd: 1, actualUsd: 0 });
      // Redis wakes up and runs the timed-out script late: a reservation nobody waits for.
      await waitFor(async () => (await blocker.ping()) === 'PONG');
      await waitFor(async () => (await blocker.hget(ledger.scopeKey(scopes[0]!.id), 'r')) === '2000000');
      await new Promise((resolve) => setTimeout(resolve, 150));
      await ledger.settle({ requestId: 'hung', scopes, estimateUsd: 2, actualUsd: 1.5 });
      expect(await blocker.hmget(ledger.scopeKey(scopes[0]!.id), 's', 'r')).toEqual(['1500000', '0']);
      const after = await ledger.reserve({ requestId: 'again', scopes, estimateUsd: 0.1, stages });
      expect(after.degraded).toBeUndefined();
      await blocker.del(ledger.scopeKey(scopes[0]!.id));
    });

    it('keeps serving through the outage, then restores and reconciles the counters', async () => {
      const errors: unknown[] = [];
      const { redis, ledger: open } = ledgerOn(server.url, 'open', errors);
      const { redis: closedRedis, ledger: closed } = ledgerOn(server.url, 'closed');
      await open.ready(5000);
      await closed.ready(5000);
      const scopes = scopesFor(10);
      const spend = async (ledger: RedisBudgetLedger, id: string, usd: number) => {
        const result = await ledger.reserve({ requestId: id, scopes, estimateUsd: usd, stages });
        if (result.admitted) await ledger.settle({ requestId: id, scopes, estimateUsd: usd, actualUsd: usd });
        return result;
      };
      expect(await spend(open, 'a', 4)).toMatchObject({ admitted: true, stage: 'ok' });
      expect(await spend(closed, 'b', 3)).toMatchObject({ admitted: true, stage: 'ok' });
      // An admitted request still in flight when Redis dies.
      expect((await open.reserve({ requestId: 'inflight', scopes, estimateUsd: 1, stages })).admitted).toBe(true);

      await server.kill();
      await waitFor(() => redis.status !== 'ready' && closedRedis.status !== 'ready');
      // Local counters start from the last values seen in Redis: 7 spent + 1 reserved.
      const degraded = await spend(open, 'c', 0.5);
      expect(degraded).toMatchObject({ admitted: true, degraded: true, stage: 'alert' });
      expect(degraded.crossed.map((crossing) => crossing.stage)).toEqual(['alert']);
      expect(await spend(open, 'd', 3)).toMatchObject({ admitted: false, degraded: true, stage: 'pause' });
      await open.settle({ requestId: 'inflight', scopes, estimateUsd: 1, actualUsd: 0.8 });
      await expect(closed.reserve({ requestId: 'e', scopes, estimateUsd: 0.1, stages })).rejects.toMatchObject({ code: 'not_ready' });
      expect(open.stats()).toMatchObject({ degraded: true, pendingScopes: 1, pendingReleases: 1 });

      await server.start(); // same port, empty: Redis lost everything
      await waitFor(() => redis.status === 'ready' && closedRedis.status === 'ready');
      await waitFor(() => open.stats().pendingScopes === 0 && open.stats().pendingReleases === 0);
      await open.reconcile();
      await closed.reconcile();
      expect(open.stats().restores).toBe(1);
      expect(closed.stats().restores).toBe(1);
      // 4 + 3 (restored, counted once although both ledgers restored) + 0.5 + 0.8 (replayed).
      const [developer] = await closed.snapshot(scopes);
      expect(developer!.spendUsd).toBeCloseTo(8.3, 9);
      expect(developer!.reservedUsd).toBe(0);
      // Back to normal, with the alert the outage already reported not sent again (EVAL after NOSCRIPT).
      const after = await spend(closed, 'f', 0.5);
      expect(after).toMatchObject({ admitted: true, stage: 'alert', crossed: [] });
      expect(after.degraded).toBeUndefined();
      expect((await closed.snapshot(scopes))[0]!.spendUsd).toBeCloseTo(8.8, 9);
      // The outage never surfaced as an error: the ledger saw the client was not ready and went local.
      expect(errors).toEqual([]);
      const direct = new Redis(server.url);
      cleanups.push(() => void direct.disconnect());
      expect(await direct.hget(open.scopeKey(scopes[0]!.id), 'f')).toBe('5'); // alert + pause, both reported during the outage
    });

    it('spend settled during a back-off while the connection stays up reaches Redis once the back-off ends (no outage to trigger the replay)', async () => {
      const { ledger } = ledgerOn(server.url, 'open');
      await ledger.ready(5000);
      const scopes = budgetScopesFor({ developer: 'backoff-dev', costCenter: 'backoff-cc', keyId: 'key_2', policyCostCenter: { budgets: { developer: { daily_usd: 100 } } }, now: Date.now() });
      await ledger.reserve({ requestId: 'warm', scopes: [], estimateUsd: 0, stages, affinityKey: 'x' }); // loads the script
      const blocker = new Redis(server.url);
      cleanups.push(() => void blocker.disconnect());
      await blocker.ping(); // connected first (see above)
      // A busy Redis: the reserve times out (one command timeout), the ledger backs off, Redis stays connected.
      void blocker.debug('SLEEP', '0.6').catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await ledger.reserve({ requestId: 'busy', scopes, estimateUsd: 2, stages })).toMatchObject({ admitted: true, degraded: true });
      await ledger.settle({ requestId: 'busy', scopes, estimateUsd: 2, actualUsd: 1.25 });
      expect(ledger.stats().pendingScopes).toBe(1);
      // The timed-out reserve still ran late in Redis; the settle's replay releases it and adds the spend.
      await waitFor(() => ledger.stats().pendingScopes === 0 && ledger.stats().pendingReleases === 0, 5000);
      const [spend, reserved] = await blocker.hmget(ledger.scopeKey(scopes[0]!.id), 's', 'r');
      expect(Number(spend)).toBe(1_250_000);
      expect(Number(reserved ?? 0)).toBe(0);
    });
  });
});
