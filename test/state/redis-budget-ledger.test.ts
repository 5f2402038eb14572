import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { budgetScopesFor, type BudgetScope } from '../../gateway/state/budget-periods.ts';
import { createStateRedis } from '../../gateway/state/create-state-redis.ts';
import { RedisBudgetLedger } from '../../gateway/state/redis-budget-ledger.ts';
import { RedisAffinityStore } from '../../gateway/state/redis-affinity-store.ts';
import { affinityKeyFor } from '../../gateway/state/affinity-store.ts';
import { deletePrefix, REDIS_URL, uniquePrefix, waitFor } from './helpers/redis-helpers.ts';

const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
const run = promisify(execFile);
const cleanups: (() => Promise<void> | void)[] = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scopesFor(daily: number, now = Date.now()): BudgetScope[] {
  return budgetScopesFor({
    developer: 'alice',
    costCenter: 'platform',
    keyId: 'key_1',
    policyCostCenter: { budgets: { developer: { daily_usd: daily }, cost_center: { monthly_usd: 1000 } } },
    now,
  });
}

async function newLedger(prefix: string, options: Partial<ConstructorParameters<typeof RedisBudgetLedger>[0]> = {}) {
  const redis = createStateRedis(REDIS_URL, { commandTimeoutMillis: 5000 });
  const ledger = new RedisBudgetLedger({ redis, keyPrefix: prefix, ...options });
  cleanups.push(async () => {
    await ledger.close();
    redis.disconnect();
  });
  await ledger.ready(5000);
  return { redis, ledger };
}

function withPrefix(name: string): string {
  const prefix = uniquePrefix(name);
  cleanups.push(() => deletePrefix(REDIS_URL, prefix));
  return prefix;
}

async function concurrentRequests(ledger: RedisBudgetLedger, scopes: BudgetScope[], count: number, name: string) {
  return Promise.all(
    Array.from({ length: count }, async (_, index) => {
      const requestId = `${name}-${index}`;
      const result = await ledger.reserve({ requestId, scopes, estimateUsd: 0.1, stages });
      if (result.admitted) {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
        await ledger.settle({ requestId, scopes, estimateUsd: 0.1, actualUsd: 0.1 });
      }
      return result;
    }),
  );
}

describe('RedisBudgetLedger', () => {
  it('64 concurrent requests against a budget allowing 10: spend never passes the pause stage', async () => {
    const prefix = withPrefix('concurrent');
    const { ledger } = await newLedger(prefix);
    const scopes = scopesFor(1);
    const results = await concurrentRequests(ledger, scopes, 64, 'r');
    expect(results.filter((result) => result.admitted)).toHaveLength(11);
    const [developer] = await ledger.snapshot(scopes);
    expect(developer!.spendUsd).toBeCloseTo(1.1, 9);
    expect(developer!.spendUsd).toBeLessThanOrEqual(1.1 + 1e-9);
    expect(developer!.reservedUsd).toBe(0);
    expect(results.every((result) => result.degraded !== true)).toBe(true);
  });

  it('two ledgers on one Redis: one budget, and each stage crossing reported once', async () => {
    const prefix = withPrefix('crossings');
    const { ledger: first } = await newLedger(prefix);
    const { ledger: second } = await newLedger(prefix);
    const scopes = scopesFor(1);
    const results = (await Promise.all([concurrentRequests(first, scopes, 32, 'a'), concurrentRequests(second, scopes, 32, 'b')])).flat();
    expect(results.filter((result) => result.admitted)).toHaveLength(11);
    const crossings = results.flatMap((result) => result.crossed.map((crossing) => `${crossing.scopeId}:${crossing.stage}`));
    expect(crossings.sort()).toEqual([
      `${scopes[0]!.id}:alert`,
      `${scopes[0]!.id}:downgrade`,
      `${scopes[0]!.id}:pause`,
    ]);
    // Later requests in the same period report nothing new, on either ledger.
    const later = await first.reserve({ requestId: 'late', scopes, estimateUsd: 0.1, stages });
    expect(later).toMatchObject({ admitted: false, stage: 'pause', crossed: [] });
    expect((await second.snapshot(scopes))[0]!.spendUsd).toBeCloseTo(1.1, 9);
  });

  it('two processes, each with its own client, cannot jointly pass the pause stage', async () => {
    const prefix = withPrefix('processes');
    const worker = fileURLToPath(new URL('./helpers/reserve-worker.ts', import.meta.url));
    const startAt = Date.now() + 1500;
    const spawnWorker = (name: string) =>
      run(process.execPath, [worker], { env: { ...process.env, REDIS_URL, PREFIX: prefix, COUNT: '32', START_AT: String(startAt), NAME: name } });
    const [a, b] = await Promise.all([spawnWorker('p1'), spawnWorker('p2')]);
    const outcomes = [...JSON.parse(a.stdout), ...JSON.parse(b.stdout)] as { admitted: boolean; degraded: boolean }[];
    expect(outcomes).toHaveLength(64);
    expect(outcomes.some((outcome) => outcome.degraded)).toBe(false);
    expect(outcomes.filter((outcome) => outcome.admitted)).toHaveLength(11);
    const { ledger } = await newLedger(prefix);
    const [developer] = await ledger.snapshot(scopesFor(1));
    expect(developer!.spendUsd).toBeCloseTo(1.1, 9);
    expect(developer!.reservedUsd).toBe(0);
  });

  it('a reserve is exactly one Redis command, and it returns the session affinity', async () => {
    const prefix = withPrefix('roundtrip');
    const { redis, ledger } = await newLedger(prefix);
    const affinity = new RedisAffinityStore({ redis, keyPrefix: prefix });
    await affinity.set('session-1', 'gpt-5.5', 'claude-sonnet-4.5', 60);
    const scopes = scopesFor(10);
    await ledger.reserve({ requestId: 'warm', scopes, estimateUsd: 0.01, stages }); // loads the script
    const monitor = await new Redis(REDIS_URL).monitor();
    const seen: string[][] = [];
    // Commands a script runs are reported with source "lua"; only client commands are round trips.
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua' && args.some((arg) => arg.includes(prefix))) seen.push(args);
    });
    cleanups.push(() => void monitor.disconnect());
    await new Promise((resolve) => setTimeout(resolve, 100));
    const result = await ledger.reserve({ requestId: 'one', scopes, estimateUsd: 0.5, stages, affinityKey: affinityKeyFor('session-1', 'gpt-5.5') });
    expect(result).toMatchObject({ admitted: true, affinity: 'claude-sonnet-4.5' });
    await waitFor(() => seen.length >= 1, 2000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(seen.map((args) => args[0]!.toLowerCase())).toEqual(['evalsha']);
    const none = await ledger.reserve({ requestId: 'two', scopes, estimateUsd: 0.5, stages, affinityKey: affinityKeyFor('session-2', 'gpt-5.5') });
    expect(none.affinity).toBeUndefined();
  });

  it('releases the reservations of a replica that never settled, after their TTL', async () => {
    const prefix = withPrefix('ttl');
    let now = Date.now();
    const { ledger: dying } = await newLedger(prefix, { reservationTtlMillis: 60_000, now: () => now });
    const { ledger: survivor } = await newLedger(prefix, { reservationTtlMillis: 60_000, now: () => now });
    const scopes = scopesFor(1, now);
    expect((await dying.reserve({ requestId: 'lost', scopes, estimateUsd: 1, stages })).admitted).toBe(true);
    expect((await survivor.reserve({ requestId: 'x', scopes, estimateUsd: 0.2, stages })).admitted).toBe(false);
    now += 61_000;
    expect((await survivor.reserve({ requestId: 'y', scopes, estimateUsd: 0.2, stages })).admitted).toBe(true);
    const [developer] = await survivor.snapshot(scopes);
    expect(developer).toMatchObject({ spendUsd: 0, reservedUsd: 0.2 });
    // A late settle of the expired reservation still counts its spend, and releases nothing twice.
    await dying.settle({ requestId: 'lost', scopes, estimateUsd: 1, actualUsd: 0.3 });
    expect((await survivor.snapshot(scopes))[0]).toMatchObject({ spendUsd: 0.3, reservedUsd: 0.2 });
  });

  it('a second reserve under the same request id replaces the first', async () => {
    const prefix = withPrefix('same-id');
    const { ledger } = await newLedger(prefix);
    const scopes = scopesFor(1);
    await ledger.reserve({ requestId: 'same', scopes, estimateUsd: 0.5, stages });
    await ledger.reserve({ requestId: 'same', scopes, estimateUsd: 0.3, stages });
    expect((await ledger.snapshot(scopes))[0]).toMatchObject({ reservedUsd: 0.3 });
    await ledger.settle({ requestId: 'same', scopes, estimateUsd: 0.3, actualUsd: 0.2 });
    expect((await ledger.snapshot(scopes))[0]).toMatchObject({ spendUsd: 0.2, reservedUsd: 0 });
  });

  it('keys carry a TTL past the period end', async () => {
    const prefix = withPrefix('expiry');
    const { redis, ledger } = await newLedger(prefix);
    const scopes = scopesFor(5);
    await ledger.reserve({ requestId: 'a', scopes, estimateUsd: 0.1, stages });
    await ledger.settle({ requestId: 'a', scopes, estimateUsd: 0.1, actualUsd: 0.1 });
    const expireAt = await redis.pexpiretime(ledger.scopeKey(scopes[0]!.id));
    expect(expireAt).toBeGreaterThan(scopes[0]!.resetsAt.getTime());
    expect(expireAt).toBeLessThanOrEqual(scopes[0]!.resetsAt.getTime() + 86_400_000);
    // An unsettled reservation outlives every scope key it touches (so a late purge still finds it).
    await ledger.reserve({ requestId: 'open', scopes, estimateUsd: 0.1, stages });
    const latestScopeExpiry = Math.max(...(await Promise.all(scopes.map((scope) => redis.pexpiretime(ledger.scopeKey(scope.id))))));
    expect(await redis.pexpiretime(`${prefix}budget-rq:open`)).toBe(latestScopeExpiry);
    expect(await redis.zscore(`${prefix}budget-rq-expiry`, `${prefix}budget-rq:open`)).not.toBeNull();
  });
});
