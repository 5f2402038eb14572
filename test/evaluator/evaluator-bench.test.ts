import { describe, expect, it } from 'vitest';
import { runEvaluatorBench } from '../../bench/evaluator-bench.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

// A smoke run of the bench (small, on a shared box): it must finish, score every turn and report
// sane numbers. The real numbers come from `node bench/evaluator-bench.ts`.
describe('bench/evaluator-bench.ts', () => {
  it.each([
    ['embedded', undefined],
    ['distributed', REDIS_URL],
  ])('%s: measures turns scored per second per worker and session-score lag', async (mode, redisUrl) => {
    const result = await runEvaluatorBench({ sessions: 40, lagSessions: 4, concurrency: 16, redisUrl });
    expect(result.mode).toBe(mode);
    // 40 sessions cycling clean (3), failing tests (5), retry cap (5), malformed (2) turns.
    expect(result.turns).toBe(150);
    expect(result.scoreRows).toBeGreaterThan(150);
    expect(result.turnsScoredPerSecondPerWorker).toBeGreaterThan(50);
    expect(result.extractTurnsPerSecond).toBeGreaterThan(200);
    expect(result.sessionLagMillis.p50).toBeGreaterThanOrEqual(190);
    expect(result.sessionLagOverIdleMillis.max).toBeLessThan(3000);
  });
});
