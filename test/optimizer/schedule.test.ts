import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { scheduleOptimizerJobs, startOptimizerSchedule } from '../../optimizer/schedule.ts';
import { OPTIMIZER_QUEUE, OPTIMIZER_RUN_JOB, ROLLBACK_GUARD_JOB } from '../../shared/queue/optimizer-queue.ts';

describe('in-process optimizer schedule (embedded mode)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs every interval, never overlaps a slow run, and keeps going after an error', async () => {
    vi.useFakeTimers();
    const started: number[] = [];
    const errors: unknown[] = [];
    let release: (() => void) | undefined;
    let active = 0;
    let maxActive = 0;
    const schedule = startOptimizerSchedule({
      intervalSeconds: 60,
      onError: (error) => errors.push(error),
      run: async () => {
        started.push(Date.now());
        active += 1;
        maxActive = Math.max(maxActive, active);
        try {
          if (started.length === 2) throw new Error('clickhouse unavailable');
          if (started.length === 3) await new Promise<void>((resolve) => (release = resolve));
        } finally {
          active -= 1;
        }
      },
    });
    const start = Date.now();
    await vi.advanceTimersByTimeAsync(59_000);
    expect(started).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toEqual([start + 60_000]);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(errors).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(started).toHaveLength(3);
    // Third run hangs: no new run starts meanwhile, and runNow joins the one in flight.
    await vi.advanceTimersByTimeAsync(300_000);
    expect(started).toHaveLength(3);
    const joined = schedule.runNow();
    release?.();
    await joined;
    expect(schedule.runs).toBe(3);
    // The next run is one interval after the slow one ended.
    const endedAt = Date.now();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(started.at(-1)).toBe(endedAt + 60_000);
    expect(maxActive).toBe(1);
    await schedule.stop();
    await vi.advanceTimersByTimeAsync(600_000);
    expect(started).toHaveLength(4);
  });

  it('can run at start and rejects a non-positive interval', async () => {
    let runs = 0;
    const schedule = startOptimizerSchedule({ intervalSeconds: 3600, runAtStart: true, run: async () => void (runs += 1) });
    await schedule.stop();
    expect(runs).toBe(1);
    expect(() => startOptimizerSchedule({ intervalSeconds: 0, run: async () => {} })).toThrow(/positive/);
  });
});

describe('repeatable BullMQ jobs (distributed mode)', () => {
  it('upserts one optimizer schedule and one guard schedule, idempotently', async () => {
    const connection = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    const queue = new Queue(OPTIMIZER_QUEUE, { connection, prefix: `test-optimizer-${randomUUID()}` });
    try {
      await scheduleOptimizerJobs(queue, { intervalSeconds: 86_400, seed: 42, guardIntervalSeconds: 300 });
      await scheduleOptimizerJobs(queue, { intervalSeconds: 43_200, seed: 42, guardIntervalSeconds: 300 });
      const schedulers = await queue.getJobSchedulers();
      const byName = Object.fromEntries(schedulers.map((scheduler) => [scheduler.name, scheduler]));
      expect(schedulers).toHaveLength(2);
      expect(Number(byName[OPTIMIZER_RUN_JOB]?.every)).toBe(43_200_000);
      expect(Number(byName[ROLLBACK_GUARD_JOB]?.every)).toBe(300_000);
      const delayed = await queue.getJobs(['delayed', 'waiting', 'prioritized']);
      expect(delayed.find((job) => job.name === OPTIMIZER_RUN_JOB)?.data).toEqual({ seed: 42 });
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    }
  });
});
