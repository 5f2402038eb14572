import type { Queue } from 'bullmq';
import {
  OPTIMIZER_RUN_JOB,
  OPTIMIZER_RUN_SCHEDULER_ID,
  ROLLBACK_GUARD_JOB,
  ROLLBACK_GUARD_SCHEDULER_ID,
  type OptimizerRunJobData,
  type RollbackGuardJobData,
} from '../shared/queue/optimizer-queue.ts';

export interface OptimizerScheduleOptions {
  /** Seconds between runs (config `optimizer.interval_seconds`). */
  intervalSeconds: number;
  /** The work: run the optimizer, check activations, … A run never overlaps the previous one. */
  run: () => Promise<void>;
  /** Errors of a run; the schedule keeps going. @defaultValue ignore */
  onError?: ((error: unknown) => void) | undefined;
  /** Also run once right away. @defaultValue false */
  runAtStart?: boolean;
}

/** A running in-process schedule. */
export interface OptimizerSchedule {
  /** Runs now unless a run is in progress (then waits for that one). */
  runNow(): Promise<void>;
  /** Stops the timer and waits for a run in progress. Idempotent. */
  stop(): Promise<void>;
  /** Completed runs (successful or not). */
  readonly runs: number;
}

/**
 * Embedded mode's scheduler: a timer that never keeps the process alive, never overlaps runs,
 * and re-arms only after a run ends (so a slow run delays the next instead of piling up).
 */
export function startOptimizerSchedule(options: OptimizerScheduleOptions): OptimizerSchedule {
  if (!(options.intervalSeconds > 0)) throw new Error('intervalSeconds must be positive');
  const intervalMillis = options.intervalSeconds * 1000;
  let timer: NodeJS.Timeout | undefined;
  let inFlight: Promise<void> | undefined;
  let stopped = false;
  let runs = 0;
  const arm = () => {
    if (stopped) return;
    timer = setTimeout(() => void execute(), intervalMillis);
    timer.unref();
  };
  const execute = (): Promise<void> => {
    if (inFlight) return inFlight;
    if (timer) clearTimeout(timer);
    inFlight = (async () => {
      try {
        await options.run();
      } catch (error) {
        options.onError?.(error);
      } finally {
        runs += 1;
        inFlight = undefined;
        arm();
      }
    })();
    return inFlight;
  };
  if (options.runAtStart) void execute();
  else arm();
  return {
    runNow: execute,
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
    get runs() {
      return runs;
    },
  };
}

export interface OptimizerJobSchedulerOptions {
  /** Seconds between optimizer runs (config `optimizer.interval_seconds`). */
  intervalSeconds: number;
  /** Config `optimizer.seed`. */
  seed: number;
  /** Seconds between rollback-guard checks. @defaultValue 300 */
  guardIntervalSeconds?: number;
  /**
   * One repeatable run per cost center (scheduler id `optimizer-run-every:<name>`); schedules of cost
   * centers no longer listed are removed. Absent: one run over every cost center.
   */
  costCenters?: readonly string[];
}

/**
 * Distributed mode: upserts the repeatable jobs on the optimizer's BullMQ queue (fixed scheduler
 * ids, so every replica calling this at start leaves exactly one schedule each). A worker on
 * OPTIMIZER_QUEUE (`optimizer/optimizer-jobs.ts`) handles OPTIMIZER_RUN_JOB with the optimizer loop's
 * run and ROLLBACK_GUARD_JOB with its guard.
 */
export async function scheduleOptimizerJobs(queue: Queue, options: OptimizerJobSchedulerOptions): Promise<void> {
  const guardData: RollbackGuardJobData = {};
  const every = options.intervalSeconds * 1000;
  if (options.costCenters === undefined) {
    const runData: OptimizerRunJobData = { seed: options.seed };
    await queue.upsertJobScheduler(OPTIMIZER_RUN_SCHEDULER_ID, { every }, { name: OPTIMIZER_RUN_JOB, data: runData });
  } else {
    const wanted = new Set(options.costCenters.map((name) => `${OPTIMIZER_RUN_SCHEDULER_ID}:${name}`));
    for (const scheduler of await queue.getJobSchedulers()) {
      const id = scheduler.key;
      if (id.startsWith(OPTIMIZER_RUN_SCHEDULER_ID) && !wanted.has(id)) await queue.removeJobScheduler(id);
    }
    for (const costCenter of options.costCenters) {
      const runData: OptimizerRunJobData = { seed: options.seed, costCenter };
      await queue.upsertJobScheduler(`${OPTIMIZER_RUN_SCHEDULER_ID}:${costCenter}`, { every }, { name: OPTIMIZER_RUN_JOB, data: runData });
    }
  }
  await queue.upsertJobScheduler(ROLLBACK_GUARD_SCHEDULER_ID, { every: (options.guardIntervalSeconds ?? 300) * 1000 }, { name: ROLLBACK_GUARD_JOB, data: guardData });
}
