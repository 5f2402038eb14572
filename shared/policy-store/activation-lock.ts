import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Serializes policy activations: one at a time in this process, and with Redis one at a time
 * across processes (SET NX PX, released only by its holder's token).
 */
export class ActivationLock {
  private readonly redis: Redis | undefined;
  private readonly key: string;
  private readonly onError: ((error: unknown) => void) | undefined;
  private localLock: Promise<unknown> = Promise.resolve();

  constructor(options: { redis?: Redis | undefined; key: string; onError?: ((error: unknown) => void) | undefined }) {
    this.redis = options.redis;
    this.key = options.key;
    this.onError = options.onError;
  }

  run<T>(work: () => Promise<T>): Promise<T> {
    const run = this.localLock.then(() => this.runAcrossProcesses(work));
    this.localLock = run.catch(() => undefined);
    return run;
  }

  private async runAcrossProcesses<T>(work: () => Promise<T>): Promise<T> {
    const redis = this.redis;
    if (!redis) return work();
    const token = randomUUID();
    const deadline = Date.now() + 10_000;
    while ((await redis.set(this.key, token, 'PX', 15_000, 'NX')) !== 'OK') {
      if (Date.now() > deadline) throw new Error('another gateway holds the policy activation lock');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    try {
      return await work();
    } finally {
      await redis
        .eval(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`, 1, this.key, token)
        .catch((error: unknown) => this.onError?.(error));
    }
  }
}
