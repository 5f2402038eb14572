import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { OPTIMIZER_QUEUE, OPTIMIZER_RUN_JOB, ROLLBACK_GUARD_JOB, type OptimizerRunJobData } from '../shared/queue/optimizer-queue.ts';
import { scheduleOptimizerJobs } from './schedule.ts';

export interface OptimizerJobsOptions {
  redisUrl: string;
  /** BullMQ key prefix of the deployment (`<redis.key_prefix>bull`, like the evaluator's queue). */
  prefix: string;
  intervalSeconds: number;
  guardIntervalSeconds: number;
  seed: number;
  /** The cost centers to schedule a run for (read again after each guard job: the policy may change). */
  costCenters: () => readonly string[];
  /** One optimizer run for one cost center (files proposals). */
  run: (costCenter: string | undefined) => Promise<void>;
  /** One look of the rollback guard. */
  guard: () => Promise<void>;
  onError?: ((error: unknown) => void) | undefined;
}

/** The running distributed optimizer: its queue (for inspection) and a stop. */
export interface OptimizerJobs {
  queue: Queue;
  /** Jobs this process finished (successful or not). */
  readonly processed: number;
  stop(): Promise<void>;
}

function connect(url: string): Redis {
  // Workers block on Redis: BullMQ needs maxRetriesPerRequest null; an unhandled 'error' would crash the process.
  const redis = new Redis(url, { maxRetriesPerRequest: null });
  redis.on('error', () => {});
  return redis;
}

/**
 * Distributed mode's optimizer: a repeatable BullMQ job per cost center and one for the rollback
 * guard (fixed scheduler ids, so replicas do not multiply them), consumed by a worker in each
 * optimizer replica. The queue's global concurrency is 1: one run at a time across all replicas, so
 * two replicas never file the same proposal or roll back the same version twice.
 */
export async function startOptimizerJobs(options: OptimizerJobsOptions): Promise<OptimizerJobs> {
  const queueConnection = connect(options.redisUrl);
  const queue = new Queue(OPTIMIZER_QUEUE, { connection: queueConnection, prefix: options.prefix });
  queue.on('error', () => {});
  await queue.setGlobalConcurrency(1);
  const schedule = () =>
    scheduleOptimizerJobs(queue, { intervalSeconds: options.intervalSeconds, guardIntervalSeconds: options.guardIntervalSeconds, seed: options.seed, costCenters: options.costCenters() });
  await schedule();
  let processed = 0;
  const workerConnection = connect(options.redisUrl);
  const worker = new Worker(
    OPTIMIZER_QUEUE,
    async (job: Job) => {
      try {
        if (job.name === OPTIMIZER_RUN_JOB) await options.run((job.data as OptimizerRunJobData).costCenter);
        else if (job.name === ROLLBACK_GUARD_JOB) {
          await options.guard();
          await schedule();
        }
      } catch (error) {
        options.onError?.(error);
        throw error;
      } finally {
        processed += 1;
      }
    },
    { connection: workerConnection, prefix: options.prefix, concurrency: 1, removeOnComplete: { count: 1000 }, removeOnFail: { count: 1000 } },
  );
  worker.on('error', (error) => options.onError?.(error));
  return {
    queue,
    get processed() {
      return processed;
    },
    async stop() {
      await worker.close();
      await queue.close();
      workerConnection.disconnect();
      queueConnection.disconnect();
    },
  };
}
