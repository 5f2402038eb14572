import type { Redis } from 'ioredis';

/** A live subscription to activation notices; `close()` ends it. */
export interface PolicyNoticeSubscription {
  close(): Promise<void>;
}

/**
 * Listens on `channel` for activation notices from any process (distributed mode). The notice's
 * content is not trusted: the listener re-reads and verifies the stored versions.
 */
export async function subscribePolicyNotices(
  redis: Redis,
  channel: string,
  onNotice: () => void,
  onError?: (error: unknown) => void,
): Promise<PolicyNoticeSubscription> {
  // A subscriber must queue its SUBSCRIBE until connected, whatever the parent client's settings.
  const subscriber = redis.duplicate({ enableOfflineQueue: true, commandTimeout: undefined, maxRetriesPerRequest: null });
  subscriber.on('message', (from: string) => {
    if (from === channel) onNotice();
  });
  subscriber.on('error', (error: unknown) => onError?.(error));
  await subscriber.subscribe(channel);
  return {
    async close() {
      await subscriber.quit().catch(() => undefined);
    },
  };
}

/** Tells every process's store that a version was activated (they poll anyway: a lost notice only delays). */
export async function publishPolicyNotice(redis: Redis, channel: string, notice: { version: number; hash: string }, onError?: (error: unknown) => void): Promise<void> {
  await redis.publish(channel, JSON.stringify(notice)).catch((error: unknown) => onError?.(error));
}
