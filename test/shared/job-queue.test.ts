import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { BullmqJobQueue } from '../../shared/queue/bullmq-job-queue.ts';
import { EvaluationDeferredError, PermanentEvaluationError } from '../../shared/queue/evaluation-errors.ts';
import type { JobQueue, QueueJob } from '../../shared/queue/job-queue.ts';
import { MemoryJobQueue } from '../../shared/queue/memory-job-queue.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
type Data = { value: number };
const opened: JobQueue<Data, number>[] = [];

afterEach(async () => {
  for (const queue of opened.splice(0)) {
    await queue.close();
    if (queue instanceof BullmqJobQueue) {
      const cleaner = new BullmqJobQueue<Data, number>({ name: queue.name, redisUrl: REDIS_URL, prefix: (queue as unknown as { options: { prefix: string } }).options.prefix });
      await cleaner.obliterate();
      await cleaner.close();
    }
  }
});

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));
async function waitFor(condition: () => boolean, timeoutMillis = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(20);
  }
}

const implementations: [string, () => JobQueue<Data, number>][] = [
  ['in-process', () => new MemoryJobQueue<Data, number>({ name: 'test-queue' })],
  ['BullMQ on Redis', () => new BullmqJobQueue<Data, number>({ name: 'test-queue', redisUrl: REDIS_URL, prefix: `gatehouse-test-${randomUUID().slice(0, 8)}` })],
];

describe.each(implementations)('%s queue: BullMQ job semantics', (_name, create) => {
  function open(): JobQueue<Data, number> {
    const queue = create();
    opened.push(queue);
    return queue;
  }

  function record(queue: JobQueue<Data, number>, behave: (job: QueueJob<Data>, calls: number) => Promise<number> | number = (job) => job.data.value) {
    const seen: { id: string; value: number; attemptsMade: number; atMillis: number }[] = [];
    queue.startWorker(
      async (job) => {
        seen.push({ id: job.id, value: job.data.value, attemptsMade: job.attemptsMade, atMillis: Date.now() });
        return behave(job, seen.filter((entry) => entry.id === job.id).length);
      },
      { concurrency: 4, lockDurationMillis: 5000, stalledIntervalMillis: 5000 },
    );
    return seen;
  }

  it('an add with an existing job id is a no-op, even after the job completed', async () => {
    const queue = open();
    const seen = record(queue);
    expect(await queue.add('job', { value: 1 }, { jobId: 'turn.a.v1' })).toBe('turn.a.v1');
    await waitFor(() => seen.length === 1);
    expect(await queue.add('job', { value: 2 }, { jobId: 'turn.a.v1' })).toBe('turn.a.v1');
    await sleep(300);
    expect(seen.map((entry) => entry.value)).toEqual([1]);
    await expect(queue.add('job', { value: 3 }, { jobId: 'has:colon' })).rejects.toThrow(/cannot contain :/);
  });

  it('delayed jobs run after their delay; a replacing deduplicated add moves the job forward with new data', async () => {
    const queue = open();
    const seen = record(queue);
    // Generous windows: this box is shared, and a late replace would legitimately find the job gone.
    await queue.add('job', { value: 1 }, { delayMillis: 1000, deduplication: { id: 'session.s1', replace: true } });
    await sleep(100);
    const replacedAt = Date.now();
    await queue.add('job', { value: 2 }, { delayMillis: 1000, deduplication: { id: 'session.s1', replace: true } });
    await waitFor(() => seen.length === 1);
    expect(seen[0]?.value).toBe(2);
    expect((seen[0]?.atMillis ?? 0) - replacedAt).toBeGreaterThanOrEqual(990);
    await sleep(300);
    expect(seen).toHaveLength(1);
  });

  it('keepLastIfActive: an add while the job runs is kept and runs after it', async () => {
    const queue = open();
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const seen = record(queue, async (job) => {
      if (job.data.value === 1) await gate;
      return job.data.value;
    });
    await queue.add('job', { value: 1 }, { deduplication: { id: 'session.s2', replace: true, keepLastIfActive: true } });
    await waitFor(() => seen.length === 1);
    await queue.add('job', { value: 2 }, { deduplication: { id: 'session.s2', replace: true, keepLastIfActive: true } });
    await queue.add('job', { value: 3 }, { deduplication: { id: 'session.s2', replace: true, keepLastIfActive: true } });
    await sleep(200);
    expect(seen).toHaveLength(1);
    release();
    await waitFor(() => seen.length === 2);
    expect(seen[1]?.value).toBe(3);
  });

  it('retries with backoff, then keeps the failed job', async () => {
    const queue = open();
    const seen = record(queue, (job, calls) => {
      if (job.data.value === 1 && calls < 3) throw new Error('flaky');
      if (job.data.value === 2) throw new Error('always');
      return 1;
    });
    await queue.add('job', { value: 1 }, { attempts: 3, backoff: { type: 'fixed', delayMillis: 100 } });
    await queue.add('job', { value: 2 }, { attempts: 2, backoff: { type: 'exponential', delayMillis: 50 } });
    await waitFor(() => seen.filter((entry) => entry.value === 1).length === 3 && seen.filter((entry) => entry.value === 2).length === 2);
    const flaky = seen.filter((entry) => entry.value === 1);
    expect(flaky.map((entry) => entry.attemptsMade)).toEqual([0, 1, 2]);
    expect((flaky[1]?.atMillis ?? 0) - (flaky[0]?.atMillis ?? 0)).toBeGreaterThanOrEqual(90);
    await waitFor(() => queue.counters().failures === 1);
    expect(queue.counters()).toMatchObject({ processed: 1, failures: 1, retries: 3 });
    expect((await queue.counts()).failed).toBe(1);
  });

  it('PermanentEvaluationError fails at once; EvaluationDeferredError delays without using an attempt', async () => {
    const queue = open();
    const seen = record(queue, (job, calls) => {
      if (job.data.value === 1) throw new PermanentEvaluationError('bad data');
      if (calls === 1) throw new EvaluationDeferredError('not yet', 150);
      return 2;
    });
    await queue.add('job', { value: 1 }, { attempts: 5 });
    await queue.add('job', { value: 2 }, { attempts: 1 });
    await waitFor(() => queue.counters().processed === 1 && queue.counters().failures === 1);
    expect(seen.filter((entry) => entry.value === 1)).toHaveLength(1);
    const deferred = seen.filter((entry) => entry.value === 2);
    expect(deferred.map((entry) => entry.attemptsMade)).toEqual([0, 0]);
    expect((deferred[1]?.atMillis ?? 0) - (deferred[0]?.atMillis ?? 0)).toBeGreaterThanOrEqual(140);
    expect(queue.counters().deferrals).toBe(1);
  });
});

describe('in-process queue bounds', () => {
  it('refuses adds beyond maxQueuedJobs instead of growing without limit', async () => {
    const queue = new MemoryJobQueue<Data, number>({ name: 'bounded', maxQueuedJobs: 2 });
    opened.push(queue);
    await queue.add('job', { value: 1 });
    await queue.add('job', { value: 2 }, { delayMillis: 10_000 });
    await expect(queue.add('job', { value: 3 })).rejects.toThrow(/is full/);
    expect(await queue.counts()).toMatchObject({ waiting: 1, delayed: 1 });
  });
});

describe('in-process queue snapshot (graceful restart of embedded mode)', () => {
  it('restores unfinished jobs with their ids, due times and deduplication keys; finished ones stay gone', async () => {
    const before = new MemoryJobQueue<Data, number>({ name: 'snapshot-a' });
    opened.push(before);
    const ran: number[] = [];
    const worker = before.startWorker(async (job) => {
      ran.push(job.data.value);
      return job.data.value;
    });
    await before.add('done', { value: 1 });
    await waitFor(() => ran.length === 1);
    await worker.close();
    await before.add('waiting', { value: 2 });
    await before.add('session', { value: 3 }, { delayMillis: 300, deduplication: { id: 'session.a', replace: true } });
    const snapshot = JSON.parse(JSON.stringify(before.snapshot())) as ReturnType<typeof before.snapshot>;
    expect(snapshot.jobs.map((job) => job.data.value).sort()).toEqual([2, 3]);

    const after = new MemoryJobQueue<Data, number>({ name: 'snapshot-b' });
    opened.push(after);
    after.restore(snapshot);
    expect(await after.counts()).toMatchObject({ waiting: 1, delayed: 1 });
    // The restored delayed job still answers to its deduplication key: a newer add replaces it.
    await after.add('session', { value: 4 }, { delayMillis: 300, deduplication: { id: 'session.a', replace: true } });
    // Generated ids continue after the restored ones.
    const fresh = await after.add('fresh', { value: 5 });
    expect(snapshot.jobs.map((job) => job.id)).not.toContain(fresh);
    const later: number[] = [];
    after.startWorker(async (job) => {
      later.push(job.data.value);
      return job.data.value;
    });
    await waitFor(() => later.length === 3);
    expect(later.sort()).toEqual([2, 4, 5]);
  });
});
