import { Redis } from 'ioredis';

/**
 * The small key → hash store session state lives in: Redis in distributed mode (shared by every
 * worker process), a Map in embedded mode. Every key expires `ttlMillis` after its last write.
 */
export interface HashStore {
  set(key: string, fields: Record<string, string>, ttlMillis: number): Promise<void>;
  get(key: string, fields: readonly string[]): Promise<(string | null)[]>;
  /** Sets `field` only when absent; true when this call set it (an atomic claim). */
  setIfAbsent(key: string, field: string, value: string, ttlMillis: number): Promise<boolean>;
  getAll(key: string): Promise<Record<string, string>>;
  close(): Promise<void>;
}

/** A MemoryHashStore's live entries, for a graceful restart of embedded mode. */
export type MemoryHashSnapshot = { key: string; fields: Record<string, string>; expiresAt: number }[];

export class MemoryHashStore implements HashStore {
  private readonly hashes = new Map<string, { fields: Map<string, string>; expiresAt: number }>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(sweepIntervalMillis = 60_000) {
    this.sweeper = setInterval(() => {
      const now = Date.now();
      for (const [key, hash] of this.hashes) if (hash.expiresAt <= now) this.hashes.delete(key);
    }, sweepIntervalMillis);
    this.sweeper.unref();
  }

  private live(key: string, ttlMillis?: number): Map<string, string> | undefined {
    const hash = this.hashes.get(key);
    const now = Date.now();
    if (hash && hash.expiresAt > now) {
      if (ttlMillis !== undefined) hash.expiresAt = now + ttlMillis;
      return hash.fields;
    }
    if (hash) this.hashes.delete(key);
    if (ttlMillis === undefined) return undefined;
    const fresh = { fields: new Map<string, string>(), expiresAt: now + ttlMillis };
    this.hashes.set(key, fresh);
    return fresh.fields;
  }

  async set(key: string, fields: Record<string, string>, ttlMillis: number): Promise<void> {
    const hash = this.live(key, ttlMillis) as Map<string, string>;
    for (const [field, value] of Object.entries(fields)) hash.set(field, value);
  }

  async get(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    const hash = this.live(key);
    return fields.map((field) => hash?.get(field) ?? null);
  }

  async setIfAbsent(key: string, field: string, value: string, ttlMillis: number): Promise<boolean> {
    const hash = this.live(key, ttlMillis) as Map<string, string>;
    if (hash.has(field)) return false;
    hash.set(field, value);
    return true;
  }

  async getAll(key: string): Promise<Record<string, string>> {
    return Object.fromEntries(this.live(key) ?? []);
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  snapshot(): MemoryHashSnapshot {
    const now = Date.now();
    const entries: MemoryHashSnapshot = [];
    for (const [key, hash] of this.hashes) if (hash.expiresAt > now) entries.push({ key, fields: Object.fromEntries(hash.fields), expiresAt: hash.expiresAt });
    return entries;
  }

  /** Puts a snapshot's unexpired entries back, each with its own expiry. */
  restore(entries: MemoryHashSnapshot): void {
    const now = Date.now();
    for (const entry of entries) {
      if (entry.expiresAt > now) this.hashes.set(entry.key, { fields: new Map(Object.entries(entry.fields)), expiresAt: entry.expiresAt });
    }
  }
}

export class RedisHashStore implements HashStore {
  private readonly redis: Redis;
  private readonly prefix: string;

  constructor(redisUrl: string, prefix: string) {
    // Auto-pipelining batches the commands of concurrent jobs into one round trip.
    this.redis = new Redis(redisUrl, { maxRetriesPerRequest: 3, enableAutoPipelining: true });
    this.redis.on('error', () => {
      // ioredis reconnects; commands fail (and jobs retry) while Redis is away.
    });
    this.prefix = prefix;
  }

  async set(key: string, fields: Record<string, string>, ttlMillis: number): Promise<void> {
    if (Object.keys(fields).length === 0) return;
    await this.redis.multi().hset(this.prefix + key, fields).pexpire(this.prefix + key, ttlMillis).exec();
  }

  async get(key: string, fields: readonly string[]): Promise<(string | null)[]> {
    if (fields.length === 0) return [];
    return this.redis.hmget(this.prefix + key, ...fields);
  }

  async setIfAbsent(key: string, field: string, value: string, ttlMillis: number): Promise<boolean> {
    const results = await this.redis.multi().hsetnx(this.prefix + key, field, value).pexpire(this.prefix + key, ttlMillis).exec();
    return results?.[0]?.[1] === 1;
  }

  async getAll(key: string): Promise<Record<string, string>> {
    return this.redis.hgetall(this.prefix + key);
  }

  /** Deletes every key under this store's prefix (tests). */
  async clear(): Promise<void> {
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}*`, 'COUNT', 500);
      cursor = next;
      if (keys.length > 0) await this.redis.del(...keys);
    } while (cursor !== '0');
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }
}
