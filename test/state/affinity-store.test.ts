import { afterEach, describe, expect, it } from 'vitest';
import { MemoryAffinityStore } from '../../gateway/state/memory-affinity-store.ts';
import { RedisAffinityStore } from '../../gateway/state/redis-affinity-store.ts';
import { createStateRedis } from '../../gateway/state/create-state-redis.ts';
import { deletePrefix, REDIS_URL, uniquePrefix, waitFor } from './helpers/redis-helpers.ts';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('MemoryAffinityStore', () => {
  it('returns the served model until the TTL expires, per session and requested model', () => {
    let now = 0;
    const store = new MemoryAffinityStore({ now: () => now });
    store.set('s1', 'gpt-5.5', 'claude-sonnet', 900);
    expect(store.get('s1', 'gpt-5.5')).toBe('claude-sonnet');
    expect(store.get('s1', 'gpt-5.1-mini')).toBeUndefined();
    expect(store.get('s2', 'gpt-5.5')).toBeUndefined();
    now = 899_999;
    expect(store.get('s1', 'gpt-5.5')).toBe('claude-sonnet');
    now = 900_000;
    expect(store.get('s1', 'gpt-5.5')).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it('ttl 0 clears, and the oldest entries go first when full', () => {
    const store = new MemoryAffinityStore({ maxEntries: 2 });
    store.set('a', 'm', 'x', 60);
    store.set('a', 'm', 'x', 0);
    expect(store.get('a', 'm')).toBeUndefined();
    store.set('b', 'm', 'x', 60);
    store.set('c', 'm', 'y', 60);
    store.set('d', 'm', 'z', 60);
    expect([store.get('b', 'm'), store.get('c', 'm'), store.get('d', 'm')]).toEqual([undefined, 'y', 'z']);
  });
});

describe('RedisAffinityStore', () => {
  it('shares the affinity between replicas and lets it expire', async () => {
    const prefix = uniquePrefix('affinity');
    const first = createStateRedis(REDIS_URL, { commandTimeoutMillis: 2000 });
    const second = createStateRedis(REDIS_URL, { commandTimeoutMillis: 2000 });
    cleanups.push(async () => {
      await deletePrefix(REDIS_URL, prefix);
      first.disconnect();
      second.disconnect();
    });
    await waitFor(() => first.status === 'ready' && second.status === 'ready');
    const writer = new RedisAffinityStore({ redis: first, keyPrefix: prefix });
    const reader = new RedisAffinityStore({ redis: second, keyPrefix: prefix });
    await writer.set('session-1', 'gpt-5.5', 'claude-sonnet', 0.3);
    expect(await reader.get('session-1', 'gpt-5.5')).toBe('claude-sonnet');
    expect(await reader.get('session-1', 'other')).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await reader.get('session-1', 'gpt-5.5')).toBeUndefined();
  });
});
