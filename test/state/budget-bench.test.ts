import { describe, expect, it } from 'vitest';
import { runBudgetBench } from '../../bench/budget-bench.ts';
import { REDIS_URL } from './helpers/redis-helpers.ts';

describe('bench/budget-bench.ts', () => {
  it('measures reserve+settle per request; the embedded budget check stays under 0.05 ms p50', async () => {
    const result = await runBudgetBench({ memoryIterations: 20_000, redisIterations: 200, redisUrl: REDIS_URL });
    expect(result.memory.iterations).toBe(20_000);
    expect(result.memory.beforeUpstream.p50Micros).toBeGreaterThan(0);
    expect(result.memory.beforeUpstream.p50Micros).toBeLessThan(50);
    expect(result.redis?.iterations).toBe(200);
    expect(result.redis!.beforeUpstream.p50Micros).toBeGreaterThan(result.memory.beforeUpstream.p50Micros);
  });
});
