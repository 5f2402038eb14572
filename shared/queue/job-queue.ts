/**
 * The one queue interface the evaluator uses, with two implementations: BullMQ on Redis
 * (distributed mode) and an in-process queue with the same job semantics (embedded mode).
 * @see https://docs.bullmq.io/guide/jobs
 */

export interface BackoffOptions {
  type: 'fixed' | 'exponential';
  /** Base delay; exponential doubles it per attempt. */
  delayMillis: number;
}

export interface DeduplicationOptions {
  /** Jobs with the same id are one job while it exists (delayed, waiting or active). */
  id: string;
  /** A new add replaces a still-delayed job (new data, new delay): a debounce. @defaultValue false */
  replace?: boolean;
  /** An add while the job is active is kept and enqueued when the active one finishes. @defaultValue false */
  keepLastIfActive?: boolean;
}

export interface AddJobOptions {
  /** Idempotent add: a job with this id that still exists (even completed or failed) makes the add a no-op. No `:`. */
  jobId?: string;
  /** @defaultValue 0 */
  delayMillis?: number;
  /** Attempts before the job is failed. @defaultValue 3 */
  attempts?: number;
  /** @defaultValue exponential, 500 ms */
  backoff?: BackoffOptions;
  deduplication?: DeduplicationOptions;
  /** W3C traceparent of the request the job came from, kept in the job options (not the data). */
  traceparent?: string;
}

/** A job as a processor sees it. `data` is JSON. */
export interface QueueJob<Data> {
  id: string;
  name: string;
  data: Data;
  /** Failed attempts before this one. */
  attemptsMade: number;
  /** When the job was created (ms). */
  timestamp: number;
  traceparent?: string | undefined;
}

export type JobProcessor<Data, Result> = (job: QueueJob<Data>) => Promise<Result>;

export interface WorkerOptions {
  /** Jobs processed in parallel by this worker. @defaultValue 4 */
  concurrency?: number;
  /** BullMQ only: lock time after which a job whose worker died is retried. @defaultValue 30000 */
  lockDurationMillis?: number;
  /** BullMQ only: how often stalled jobs are looked for. @defaultValue 30000 */
  stalledIntervalMillis?: number;
}

/** A running typed worker: `Worker<JobData, JobResult>` in BullMQ's terms. */
export interface JobWorker {
  close(): Promise<void>;
}

export interface QueueCounts {
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

/** Counters of this process's workers. */
export interface WorkerCounters {
  processed: number;
  failures: number;
  retries: number;
  deferrals: number;
  /** Time from a job becoming ready to its processing finishing, last / max / mean. */
  lastLagMillis: number;
  maxLagMillis: number;
  meanLagMillis: number;
}

export interface JobQueue<Data, Result> {
  readonly name: string;
  /** Adds a job; resolves to its id (the existing job's id when deduplicated or idempotent). */
  add(name: string, data: Data, options?: AddJobOptions): Promise<string>;
  /** Starts a worker on this queue. */
  startWorker(processor: JobProcessor<Data, Result>, options?: WorkerOptions): JobWorker;
  counts(): Promise<QueueCounts>;
  counters(): WorkerCounters;
  /** Stops workers (waiting for active jobs) and releases connections. */
  close(): Promise<void>;
}

/** Shared bookkeeping of worker counters. */
export class CounterSet {
  readonly values: WorkerCounters = { processed: 0, failures: 0, retries: 0, deferrals: 0, lastLagMillis: 0, maxLagMillis: 0, meanLagMillis: 0 };

  recordProcessed(lagMillis: number): void {
    const lag = Math.max(0, lagMillis);
    this.values.processed += 1;
    this.values.lastLagMillis = lag;
    this.values.maxLagMillis = Math.max(this.values.maxLagMillis, lag);
    this.values.meanLagMillis += (lag - this.values.meanLagMillis) / this.values.processed;
  }
}

/** Delay before retry `attempt` (1-based), BullMQ's formulas. */
export function backoffDelay(backoff: BackoffOptions, attempt: number): number {
  return backoff.type === 'fixed' ? backoff.delayMillis : Math.round(2 ** (attempt - 1) * backoff.delayMillis);
}
