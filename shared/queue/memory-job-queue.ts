import { EvaluationDeferredError, PermanentEvaluationError } from './evaluation-errors.ts';
import {
  backoffDelay,
  CounterSet,
  type AddJobOptions,
  type JobProcessor,
  type JobQueue,
  type JobWorker,
  type QueueCounts,
  type QueueJob,
  type WorkerCounters,
  type WorkerOptions,
} from './job-queue.ts';

type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

interface MemoryJob<Data> {
  id: string;
  name: string;
  data: Data;
  options: AddJobOptions;
  state: JobState;
  attemptsMade: number;
  timestamp: number;
  readyAt: number;
  failedReason?: string;
}

/** Jobs not finished yet, for a graceful restart of embedded mode (`snapshot` / `restore`). */
export interface MemoryQueueSnapshot<Data> {
  jobs: { id: string; name: string; data: Data; options: AddJobOptions; attemptsMade: number; timestamp: number; readyAt: number }[];
}

export interface MemoryJobQueueOptions {
  name: string;
  /** Completed jobs kept (for idempotent adds by job id). @defaultValue 10000 */
  keepCompleted?: number;
  /** Failed jobs kept for inspection. @defaultValue 10000 */
  keepFailed?: number;
  /** Waiting plus delayed jobs before `add` refuses (memory bound when workers fall behind). @defaultValue 200000 */
  maxQueuedJobs?: number;
}

/**
 * An in-process queue with BullMQ's job semantics, for embedded mode: custom job ids make adds
 * idempotent while the job is kept; delayed jobs; deduplication with `replace` (debounce) and
 * `keepLastIfActive`; retries with fixed/exponential backoff; failed jobs kept; deferral without
 * using an attempt. Jobs live in memory; `snapshot`/`restore` carry them over a graceful restart
 * (the evaluator saves them under data_dir), a crash loses them (spans are not lost).
 */
export class MemoryJobQueue<Data, Result> implements JobQueue<Data, Result> {
  readonly name: string;
  private readonly jobs = new Map<string, MemoryJob<Data>>();
  private waiting: string[] = [];
  private waitingHead = 0;
  /** Delayed job ids sorted by readyAt. */
  private delayed: string[] = [];
  private readonly deduplicationKeys = new Map<string, string>();
  private readonly deduplicationNext = new Map<string, { name: string; data: Data; options: AddJobOptions }>();
  private readonly completedOrder: string[] = [];
  private readonly failedOrder: string[] = [];
  private readonly keepCompleted: number;
  private readonly keepFailed: number;
  private readonly maxQueuedJobs: number;
  private readonly workers = new Set<MemoryWorker<Data, Result>>();
  private readonly counterSet = new CounterSet();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private sequence = 0;
  private activeCount = 0;
  private closed = false;

  constructor(options: MemoryJobQueueOptions) {
    this.name = options.name;
    this.keepCompleted = options.keepCompleted ?? 10_000;
    this.keepFailed = options.keepFailed ?? 10_000;
    this.maxQueuedJobs = options.maxQueuedJobs ?? 200_000;
  }

  async add(name: string, data: Data, options: AddJobOptions = {}): Promise<string> {
    if (options.jobId?.includes(':')) throw new Error('Custom Id cannot contain :');
    if (options.jobId !== undefined && this.jobs.has(options.jobId)) return options.jobId;
    if (this.waiting.length - this.waitingHead + this.delayed.length >= this.maxQueuedJobs) throw new Error(`queue ${this.name} is full (${this.maxQueuedJobs} jobs)`);
    const deduplication = options.deduplication;
    if (deduplication) {
      const existingId = this.deduplicationKeys.get(deduplication.id);
      const existing = existingId === undefined ? undefined : this.jobs.get(existingId);
      if (existing) {
        if (deduplication.replace && existing.state === 'delayed') {
          this.removeDelayed(existing.id);
          this.jobs.delete(existing.id);
        } else {
          if (deduplication.keepLastIfActive && existing.state === 'active') this.deduplicationNext.set(deduplication.id, { name, data, options });
          return existing.id;
        }
      }
    }
    const id = options.jobId ?? String((this.sequence += 1));
    const now = Date.now();
    const delay = Math.max(0, options.delayMillis ?? 0);
    const job: MemoryJob<Data> = { id, name, data: structuredClone(data), options, state: 'waiting', attemptsMade: 0, timestamp: now, readyAt: now + delay };
    this.jobs.set(id, job);
    if (deduplication) this.deduplicationKeys.set(deduplication.id, id);
    if (delay > 0) this.schedule(job, job.readyAt);
    else this.enqueue(job);
    return id;
  }

  /** State of a job (tests and admin views). */
  getJobState(id: string): JobState | undefined {
    return this.jobs.get(id)?.state;
  }

  private enqueue(job: MemoryJob<Data>): void {
    job.state = 'waiting';
    this.waiting.push(job.id);
    for (const worker of this.workers) worker.pump();
  }

  private schedule(job: MemoryJob<Data>, readyAt: number): void {
    job.state = 'delayed';
    job.readyAt = readyAt;
    // Binary insertion keeps `delayed` ordered; equal times keep insertion order.
    let low = 0;
    let high = this.delayed.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.jobs.get(this.delayed[middle] as string)?.readyAt ?? 0) <= readyAt) low = middle + 1;
      else high = middle;
    }
    this.delayed.splice(low, 0, job.id);
    this.armTimer();
  }

  private removeDelayed(id: string): void {
    const index = this.delayed.indexOf(id);
    if (index >= 0) this.delayed.splice(index, 1);
  }

  private armTimer(): void {
    if (this.closed) return;
    const first = this.delayed[0];
    const at = first === undefined ? Number.POSITIVE_INFINITY : (this.jobs.get(first)?.readyAt ?? 0);
    if (at === this.timerAt) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Number.POSITIVE_INFINITY) return;
    this.timer = setTimeout(() => this.promoteDue(), Math.max(0, at - Date.now()));
    this.timer.unref();
  }

  private promoteDue(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = Date.now();
    while (this.delayed.length > 0) {
      const job = this.jobs.get(this.delayed[0] as string);
      if (job && job.readyAt > now) break;
      this.delayed.shift();
      if (job) this.enqueue(job);
    }
    this.armTimer();
  }

  /** Takes the next waiting job for a worker, or undefined. */
  takeNext(): MemoryJob<Data> | undefined {
    while (this.waitingHead < this.waiting.length) {
      const id = this.waiting[this.waitingHead] as string;
      this.waitingHead += 1;
      if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
        this.waiting = this.waiting.slice(this.waitingHead);
        this.waitingHead = 0;
      }
      const job = this.jobs.get(id);
      if (job && job.state === 'waiting') {
        job.state = 'active';
        this.activeCount += 1;
        return job;
      }
    }
    return undefined;
  }

  /** Runs one job through `processor` and applies BullMQ's outcome rules. */
  async run(job: MemoryJob<Data>, processor: JobProcessor<Data, Result>): Promise<void> {
    const view: QueueJob<Data> = {
      id: job.id,
      name: job.name,
      data: job.data,
      attemptsMade: job.attemptsMade,
      timestamp: job.timestamp,
      traceparent: job.options.traceparent,
    };
    try {
      await processor(view);
      this.counterSet.recordProcessed(Date.now() - job.readyAt);
      this.finish(job, 'completed');
    } catch (error) {
      this.activeCount -= 1;
      if (error instanceof EvaluationDeferredError) {
        this.counterSet.values.deferrals += 1;
        this.schedule(job, Date.now() + error.delayMillis);
        return;
      }
      job.attemptsMade += 1;
      job.failedReason = error instanceof Error ? error.message : String(error);
      const attempts = job.options.attempts ?? 3;
      if (!(error instanceof PermanentEvaluationError) && job.attemptsMade < attempts) {
        this.counterSet.values.retries += 1;
        this.schedule(job, Date.now() + backoffDelay(job.options.backoff ?? { type: 'exponential', delayMillis: 500 }, job.attemptsMade));
        return;
      }
      this.counterSet.values.failures += 1;
      this.activeCount += 1;
      this.finish(job, 'failed');
    }
  }

  private finish(job: MemoryJob<Data>, state: 'completed' | 'failed'): void {
    this.activeCount -= 1;
    job.state = state;
    // A completed job is kept only so its id stays taken (idempotent adds); its data is not needed.
    if (state === 'completed') job.data = undefined as Data;
    const order = state === 'completed' ? this.completedOrder : this.failedOrder;
    order.push(job.id);
    const keep = state === 'completed' ? this.keepCompleted : this.keepFailed;
    while (order.length > keep) {
      const evicted = order.shift() as string;
      if (this.jobs.get(evicted)?.state === state) this.jobs.delete(evicted);
    }
    const deduplicationId = job.options.deduplication?.id;
    if (deduplicationId !== undefined && this.deduplicationKeys.get(deduplicationId) === job.id) {
      this.deduplicationKeys.delete(deduplicationId);
      const next = this.deduplicationNext.get(deduplicationId);
      if (next) {
        this.deduplicationNext.delete(deduplicationId);
        void this.add(next.name, next.data, next.options);
      }
    }
  }

  startWorker(processor: JobProcessor<Data, Result>, options: WorkerOptions = {}): JobWorker {
    const worker = new MemoryWorker(this, processor, options.concurrency ?? 4, () => this.workers.delete(worker));
    this.workers.add(worker);
    worker.pump();
    return worker;
  }

  async counts(): Promise<QueueCounts> {
    return {
      waiting: this.waiting.length - this.waitingHead,
      active: this.activeCount,
      delayed: this.delayed.length,
      failed: this.failedOrder.length,
      completed: this.completedOrder.length,
    };
  }

  counters(): WorkerCounters {
    return { ...this.counterSet.values };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await Promise.all([...this.workers].map((worker) => worker.close()));
  }

  /**
   * The jobs not finished yet — waiting and delayed, and active ones as waiting (jobs are
   * idempotent, a re-run is harmless) — with their ids, attempts and due times.
   */
  snapshot(): MemoryQueueSnapshot<Data> {
    const jobs: MemoryQueueSnapshot<Data>['jobs'] = [];
    for (const job of this.jobs.values()) {
      if (job.state === 'completed' || job.state === 'failed') continue;
      jobs.push({ id: job.id, name: job.name, data: job.data, options: job.options, attemptsMade: job.attemptsMade, timestamp: job.timestamp, readyAt: job.readyAt });
    }
    return { jobs };
  }

  /** Puts a snapshot's jobs back (ids, deduplication keys, due times kept); ids already present are skipped. */
  restore(snapshot: MemoryQueueSnapshot<Data>): void {
    const now = Date.now();
    for (const saved of snapshot.jobs) {
      if (this.jobs.has(saved.id)) continue;
      const job: MemoryJob<Data> = { ...saved, state: 'waiting' };
      this.jobs.set(job.id, job);
      if (saved.options.deduplication) this.deduplicationKeys.set(saved.options.deduplication.id, job.id);
      // Generated ids are a sequence: new jobs must not reuse a restored one.
      if (/^\d+$/.test(job.id)) this.sequence = Math.max(this.sequence, Number(job.id));
      if (job.readyAt > now) this.schedule(job, job.readyAt);
      else this.enqueue(job);
    }
  }
}

class MemoryWorker<Data, Result> implements JobWorker {
  private running = 0;
  private stopped = false;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly queue: MemoryJobQueue<Data, Result>;
  private readonly processor: JobProcessor<Data, Result>;
  private readonly concurrency: number;
  private readonly onClose: () => void;

  constructor(queue: MemoryJobQueue<Data, Result>, processor: JobProcessor<Data, Result>, concurrency: number, onClose: () => void) {
    this.queue = queue;
    this.processor = processor;
    this.concurrency = concurrency;
    this.onClose = onClose;
  }

  pump(): void {
    while (!this.stopped && this.running < this.concurrency) {
      const job = this.queue.takeNext();
      if (!job) return;
      this.running += 1;
      const promise = this.queue.run(job, this.processor).finally(() => {
        this.running -= 1;
        this.inFlight.delete(promise);
        // Yield to I/O between jobs so a long backlog never starves timers and sockets.
        setImmediate(() => this.pump());
      });
      this.inFlight.add(promise);
    }
  }

  async close(): Promise<void> {
    this.stopped = true;
    await Promise.all([...this.inFlight]);
    this.onClose();
  }
}
