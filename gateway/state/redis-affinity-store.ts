import type { Redis } from 'ioredis';
import { affinityKeyFor, type AffinityStore } from './affinity-store.ts';
import { MemoryAffinityStore } from './memory-affinity-store.ts';

export interface RedisAffinityStoreOptions {
  /** A client made with {@link createStateRedis}. */
  redis: Redis;
  /** Deployment `redis.key_prefix`. @defaultValue "gatehouse:" */
  keyPrefix?: string;
  /** Called with errors the store absorbed. */
  onError?: (error: unknown, operation: string) => void;
  /** Local mirror capacity. @defaultValue 100000 */
  maxLocalEntries?: number;
}

/**
 * Affinity shared by every replica: `SET <prefix>affinity:<session>\u001f<model> <served> PX ttl`.
 * On the hot path it is read inside the budget reserve script (pass `affinityKey` to
 * `RedisBudgetLedger.reserve`), so it costs no extra round trip; `get` is for callers without
 * a budget. Every `set` is mirrored locally, and reads fall back to the mirror while Redis is
 * unreachable (a replica then only knows the affinities it set itself).
 */
export class RedisAffinityStore implements AffinityStore {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly onError: (error: unknown, operation: string) => void;
  private readonly mirror: MemoryAffinityStore;

  constructor(options: RedisAffinityStoreOptions) {
    this.redis = options.redis;
    this.prefix = options.keyPrefix ?? 'gatehouse:';
    this.onError = options.onError ?? (() => {});
    this.mirror = new MemoryAffinityStore({ maxEntries: options.maxLocalEntries ?? 100_000 });
  }

  /** Redis key of an affinity (the budget reserve script reads the same key). */
  redisKey(affinityKey: string): string {
    return `${this.prefix}affinity:${affinityKey}`;
  }

  async get(sessionId: string, requestedModel: string): Promise<string | undefined> {
    const key = affinityKeyFor(sessionId, requestedModel);
    if (this.redis.status === 'ready') {
      try {
        return (await this.redis.get(this.redisKey(key))) ?? undefined;
      } catch (error) {
        this.onError(error, 'affinity.get');
      }
    }
    return this.mirror.getByKey(key);
  }

  /** The locally mirrored value, used by the budget ledger while Redis is unreachable. */
  getLocalByKey(affinityKey: string): string | undefined {
    return this.mirror.getByKey(affinityKey);
  }

  async set(sessionId: string, requestedModel: string, servedModel: string, ttlSeconds: number): Promise<void> {
    const key = affinityKeyFor(sessionId, requestedModel);
    this.mirror.setByKey(key, servedModel, ttlSeconds);
    if (this.redis.status !== 'ready') return;
    try {
      if (ttlSeconds > 0) await this.redis.set(this.redisKey(key), servedModel, 'PX', Math.round(ttlSeconds * 1000));
      else await this.redis.del(this.redisKey(key));
    } catch (error) {
      this.onError(error, 'affinity.set');
    }
  }
}
