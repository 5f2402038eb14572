import { Pool } from 'undici';

const pools = new Map<string, Pool>();

/**
 * One kept-alive connection pool per upstream origin (and connect timeout), shared by every
 * request to it. @see https://undici.nodejs.org/#/docs/api/Pool
 */
export function upstreamPool(origin: string, connectMillis: number, connections = 256): Pool {
  const key = `${origin}|${connectMillis}|${connections}`;
  let pool = pools.get(key);
  if (pool === undefined) {
    pool = new Pool(origin, { connections, connect: { timeout: connectMillis }, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 600_000 });
    pools.set(key, pool);
  }
  return pool;
}

/** Closes every pool (graceful shutdown, tests). */
export async function closeUpstreamPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.allSettled(all.map((pool) => pool.close()));
}
