import { Redis, type RedisOptions } from 'ioredis';

export interface StateRedisOptions {
  /** A failed or hung command gives up after this long (then the ledger degrades). @defaultValue 250 */
  commandTimeoutMillis?: number;
  /** @defaultValue 2000 */
  connectTimeoutMillis?: number;
  /** Longest wait between reconnect attempts. @defaultValue 2000 */
  maxReconnectDelayMillis?: number;
  /** Connection errors (log at warn; they repeat while Redis is down). */
  onError?: (error: Error) => void;
  /** Extra ioredis options. */
  extra?: RedisOptions;
}

/**
 * The ioredis client for hot state (budgets, affinity). Unlike ioredis' defaults, it never
 * queues commands while disconnected (`enableOfflineQueue: false`) and gives up on a command
 * after `commandTimeoutMillis`, so a Redis outage costs a request at most that long once, then
 * the ledger answers from local counters; it reconnects forever with capped backoff.
 * Use a separate client for BullMQ (which needs the opposite settings).
 */
export function createStateRedis(url: string, options: StateRedisOptions = {}): Redis {
  const maxDelay = options.maxReconnectDelayMillis ?? 2000;
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: options.commandTimeoutMillis ?? 250,
    connectTimeout: options.connectTimeoutMillis ?? 2000,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), maxDelay),
    ...options.extra,
  });
  redis.on('error', options.onError ?? (() => {}));
  return redis;
}
