import type { Logger } from 'pino';
import type { Redis } from 'ioredis';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import type { PolicyHolder } from '../../shared/policy/active-policy.ts';
import { KeyStore } from '../../gateway/state/key-store.ts';
import { MemoryAffinityStore } from '../../gateway/state/memory-affinity-store.ts';
import { RedisAffinityStore } from '../../gateway/state/redis-affinity-store.ts';
import { MemoryBudgetLedger } from '../../gateway/state/memory-budget-ledger.ts';
import { RedisBudgetLedger } from '../../gateway/state/redis-budget-ledger.ts';
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from '../../gateway/state/rate-limiter.ts';
import { ExplorationBoard } from '../../shared/exploration/exploration-board.ts';
import type { Storage } from './open-storage.ts';

/**
 * The hot state of the gateway: in memory (embedded, rebuilt from ClickHouse at start) or in Redis
 * (distributed, shared by the replicas).
 */
export interface StateBackends {
  affinity: (RedisAffinityStore | MemoryAffinityStore) & { close?: () => Promise<void> };
  ledger: (MemoryBudgetLedger | RedisBudgetLedger) & { close?: () => Promise<void> };
  rateLimiter: RateLimiter;
  /** The optimizer's exploration plans, held in memory for the request path (embedded: published in process; distributed: through Redis by whichever replica runs the optimizer). */
  explorationPlans: ExplorationBoard;
  close(): Promise<void>;
}

/** Resolves when `redis` is ready or after `timeoutMillis` (later commands then fail fast and degrade). */
function redisConnected(redis: Redis, timeoutMillis: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMillis);
    redis.once('ready', done);
  });
}

/** The state Redis of a distributed deployment (`redis.url`); undefined embedded. */
export async function connectStateRedis(config: DeploymentConfig, logger: Logger): Promise<Redis | undefined> {
  if (!config.redis.url) return undefined;
  // ioredis is loaded only by deployments that use Redis.
  const { createStateRedis } = await import('../../gateway/state/create-state-redis.ts');
  const redis = createStateRedis(config.redis.url, { onError: (error) => logger.warn({ err: { message: error.message } }, 'Redis connection problem') });
  // The state client never queues commands while disconnected, and governance seeds the audit chain
  // head in Redis at once: wait (bounded) for the connection instead of failing the start on a race.
  await redisConnected(redis, 2_000);
  return redis;
}

/** Virtual keys: loaded now, bootstrap keys following the policy, refreshed from ClickHouse when replicas share it. */
export async function openKeyStore(storage: Storage, policy: PolicyHolder, redis: Redis | undefined, logger: Logger): Promise<KeyStore> {
  const keys = new KeyStore(storage.clickhouse, storage.database);
  await keys.load(policy.current().document);
  policy.onChange((active) => void keys.applyPolicyKeys(active.document).catch((error: unknown) => logger.warn({ err: error }, 'applying policy keys failed')));
  if (redis) keys.startRefreshing(2_000, (error) => logger.warn({ err: { message: (error as Error).message } }, 'key refresh failed'));
  return keys;
}

/** Embedded: the spend of the current budget periods summed again from the spans in ClickHouse. */
async function rebuiltMemoryLedger(storage: Storage, policy: PolicyHolder, affinity: MemoryAffinityStore): Promise<MemoryBudgetLedger> {
  const ledger = new MemoryBudgetLedger({ affinity });
  // Spans still spooled from before a crash or an outage carry spend: land them before summing.
  await storage.writer.replaySpool();
  await storage.writer.flush(); // spans recovered from the journal, too
  const timeZones = Object.fromEntries(Object.entries(policy.current().document.cost_centers).map(([name, center]) => [name, center.timezone]));
  const { rebuildLedgerFromClickHouse } = await import('../../gateway/state/rebuild-budget-ledger.ts');
  await rebuildLedgerFromClickHouse(ledger, storage.clickhouse, storage.database, Date.now(), { timeZones });
  return ledger;
}

export async function openStateBackends(config: DeploymentConfig, redis: Redis | undefined, storage: Storage, policy: PolicyHolder, logger: Logger): Promise<StateBackends> {
  const keyPrefix = config.redis.key_prefix;
  const warn = (message: string) => (error: unknown, operation?: string) => logger.warn({ err: { message: (error as Error).message }, ...(operation ? { operation } : {}) }, message);
  let backends: Omit<StateBackends, 'close' | 'explorationPlans'>;
  if (redis) {
    const affinity = new RedisAffinityStore({ redis, keyPrefix });
    const ledger = new RedisBudgetLedger({ redis, keyPrefix, onUnavailable: config.redis.on_unavailable, affinity, onError: warn('budget ledger degraded') });
    await ledger.ready();
    backends = { affinity, ledger, rateLimiter: new RedisRateLimiter({ redis, keyPrefix, onError: warn('rate limiter degraded (requests pass)') }) };
  } else {
    const affinity = new MemoryAffinityStore();
    backends = { affinity, ledger: await rebuiltMemoryLedger(storage, policy, affinity), rateLimiter: new MemoryRateLimiter() };
  }
  const explorationPlans = await ExplorationBoard.open({
    redis,
    keyPrefix,
    costCenters: () => Object.keys(policy.current().document.cost_centers),
    onError: warn('exploration plans: Redis problem (held plans run until they expire)'),
  });
  return {
    ...backends,
    explorationPlans,
    async close() {
      await explorationPlans.close();
      await backends.ledger.close?.();
      await backends.affinity.close?.();
    },
  };
}
