import { DelayedError, Queue, UnrecoverableError, Worker, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import { EvaluationDeferredError, PermanentEvaluationError } from './evaluation-errors.ts';
import {
  CounterSet,
  type AddJobOptions,
  type JobProcessor,
  type JobQueue,
  type JobWorker,
  type QueueCounts,
  type WorkerCounters,
  type WorkerOptions,
} from './job-queue.ts';

export interface BullmqJobQueueOptions {
  name: string;
  /** `redis://host:port/db`. */
  redisUrl: string;
  /** BullMQ key prefix; one per deployment (and per test). @defaultValue gatehouse */
  prefix?: string;
  /** Completed jobs kept, so a resent turn with the same job id is not scored twice. @defaultValue 10000 */
  keepCompleted?: number;
  /** Failed jobs kept for inspection. @defaultValue 10000 */
  keepFailed?: number;
}

function connect(url: string): Redis {
  // BullMQ needs maxRetriesPerRequest: null on connections used by workers (blocking commands).
  const redis = new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true, lazyConnect: false });
  // ioredis reconnects by itself; an 'error' event without a listener would crash the process.
  redis.on('error', () => {});
  return redis;
}

/** BullMQ on Redis behind the evaluator's queue interface (distributed mode). */
export class BullmqJobQueue<Data, Result> implements JobQueue<Data, Result> {
  readonly name: string;
  private readonly options: Required<BullmqJobQueueOptions>;
  private readonly connection: Redis;
  private readonly queue: Queue<Data, Result, string>;
  private readonly workers = new Set<{ worker: Worker<Data, Result, string>; connection: Redis }>();
  private readonly counterSet = new CounterSet();

  constructor(options: BullmqJobQueueOptions) {
    this.options = { prefix: 'gatehouse', keepCompleted: 10_000, keepFailed: 10_000, ...options };
    this.name = options.name;
    this.connection = connect(options.redisUrl);
    this.queue = new Queue<Data, Result, string>(options.name, { connection: this.connection, prefix: this.options.prefix });
    this.queue.on('error', () => {});
  }

  async add(name: string, data: Data, options: AddJobOptions = {}): Promise<string> {
    const jobOptions: JobsOptions = {
      attempts: options.attempts ?? 3,
      backoff: { type: options.backoff?.type ?? 'exponential', delay: options.backoff?.delayMillis ?? 500 },
      removeOnComplete: { count: this.options.keepCompleted },
      removeOnFail: { count: this.options.keepFailed },
    };
    if (options.jobId !== undefined) jobOptions.jobId = options.jobId;
    if (options.delayMillis !== undefined && options.delayMillis > 0) jobOptions.delay = options.delayMillis;
    if (options.deduplication) {
      jobOptions.deduplication = { id: options.deduplication.id };
      if (options.deduplication.replace) jobOptions.deduplication.replace = true;
      if (options.deduplication.keepLastIfActive) jobOptions.deduplication.keepLastIfActive = true;
    }
    if (options.traceparent !== undefined) jobOptions.telemetry = { metadata: options.traceparent };
    const job = await this.queue.add(name as never, data as never, jobOptions);
    return String(job.id);
  }

  startWorker(processor: JobProcessor<Data, Result>, options: WorkerOptions = {}): JobWorker {
    // One BullMQ Worker fetches jobs over one connection, one round trip at a time; above ~16
    // concurrent jobs the fetch loop, not the processing, is the limit. So a process's worker is
    // several BullMQ Workers (each with its own connection) sharing the concurrency.
    const concurrency = options.concurrency ?? 4;
    const loops = Math.max(1, Math.min(8, Math.ceil(concurrency / 16)));
    const entries = Array.from({ length: loops }, () =>
      this.startBullmqWorker(processor, { ...options, concurrency: Math.ceil(concurrency / loops) }),
    );
    return {
      close: async () => {
        await Promise.all(entries.map((entry) => this.closeEntry(entry)));
      },
    };
  }

  private async closeEntry(entry: { worker: Worker<Data, Result, string>; connection: Redis }): Promise<void> {
    if (!this.workers.has(entry)) return;
    this.workers.delete(entry);
    await entry.worker.close();
    entry.connection.disconnect();
  }

  private startBullmqWorker(processor: JobProcessor<Data, Result>, options: WorkerOptions): { worker: Worker<Data, Result, string>; connection: Redis } {
    const connection = connect(this.options.redisUrl);
    const counters = this.counterSet;
    const worker = new Worker<Data, Result, string>(
      this.name,
      async (job: Job<Data, Result, string>, token?: string): Promise<Result> => {
        try {
          const result = await processor({
            id: String(job.id),
            name: job.name,
            data: job.data,
            attemptsMade: job.attemptsMade,
            timestamp: job.timestamp,
            traceparent: job.opts.telemetry?.metadata,
          });
          counters.recordProcessed(Date.now() - (job.timestamp + (job.opts.delay ?? 0)));
          return result;
        } catch (error) {
          if (error instanceof EvaluationDeferredError) {
            counters.values.deferrals += 1;
            await job.moveToDelayed(Date.now() + error.delayMillis, token);
            throw new DelayedError();
          }
          if (error instanceof PermanentEvaluationError) throw new UnrecoverableError(error.message);
          throw error;
        }
      },
      {
        connection,
        prefix: this.options.prefix,
        concurrency: options.concurrency ?? 4,
        lockDuration: options.lockDurationMillis ?? 30_000,
        stalledInterval: options.stalledIntervalMillis ?? 30_000,
        maxStalledCount: 2,
      },
    );
    worker.on('failed', (job, error) => {
      if (!job || error instanceof DelayedError || error?.name === 'DelayedError') return;
      if (job.finishedOn !== undefined || job.attemptsMade >= (job.opts.attempts ?? 1)) counters.values.failures += 1;
      else counters.values.retries += 1;
    });
    worker.on('error', () => {
      // Connection errors are retried by ioredis; without a listener Node would treat them as fatal.
    });
    const entry = { worker, connection };
    this.workers.add(entry);
    return entry;
  }

  async counts(): Promise<QueueCounts> {
    const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized');
    return {
      waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0),
      active: counts.active ?? 0,
      delayed: counts.delayed ?? 0,
      failed: counts.failed ?? 0,
      completed: counts.completed ?? 0,
    };
  }

  counters(): WorkerCounters {
    return { ...this.counterSet.values };
  }

  /** Deletes every key of this queue (tests clean up their unique prefix with it). */
  async obliterate(): Promise<void> {
    await this.queue.obliterate({ force: true });
  }

  async close(): Promise<void> {
    await Promise.all([...this.workers].map((entry) => this.closeEntry(entry)));
    await this.queue.close();
    this.connection.disconnect();
  }
}
