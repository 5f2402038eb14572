import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { JobQueue } from '../shared/queue/job-queue.ts';
import { MemoryJobQueue, type MemoryQueueSnapshot } from '../shared/queue/memory-job-queue.ts';
import type { TurnSignals } from '../shared/tool-signals/extract-turn-signals.ts';
import type { SessionJobData, SessionJobResult } from './process-session-job.ts';
import type { TurnJobResult } from './process-turn-job.ts';
import { MemoryHashStore, RedisHashStore, type HashStore, type MemoryHashSnapshot } from './session-state/hash-store.ts';

export type EvaluatorJobData = TurnSignals | SessionJobData;
export type EvaluatorJobResult = TurnJobResult | SessionJobResult;
export type EvaluatorQueue = JobQueue<EvaluatorJobData, EvaluatorJobResult>;

/** The queue and session state of one evaluator; `embedded` holds the in-process ones, which can be saved and restored. */
export interface EvaluatorQueueAndState {
  queue: EvaluatorQueue;
  store: HashStore;
  embedded: { queue: MemoryJobQueue<EvaluatorJobData, EvaluatorJobResult>; store: MemoryHashStore } | undefined;
}

/**
 * BullMQ and Redis-held session state in distributed mode; in embedded mode in-process ones. BullMQ
 * (~170 modules, with cron-parser and luxon) is loaded only where it is used: every module a process
 * holds is heap that each full garbage collection marks again.
 */
export async function openQueueAndState(redis: { url: string; prefix?: string } | undefined, queueName: string): Promise<EvaluatorQueueAndState> {
  if (redis) {
    const { BullmqJobQueue } = await import('../shared/queue/bullmq-job-queue.ts');
    const queue: EvaluatorQueue = new BullmqJobQueue({ name: queueName, redisUrl: redis.url, prefix: redis.prefix ?? 'gatehouse' });
    const store: HashStore = new RedisHashStore(redis.url, `${redis.prefix ?? 'gatehouse'}:${queueName}:state:`);
    return { queue, store, embedded: undefined };
  }
  const embedded = { queue: new MemoryJobQueue<EvaluatorJobData, EvaluatorJobResult>({ name: queueName }), store: new MemoryHashStore() };
  return { queue: embedded.queue, store: embedded.store, embedded };
}

/** What an embedded evaluator saves on close (`stateFile`). */
interface SavedEvaluatorState {
  queue: MemoryQueueSnapshot<EvaluatorJobData>;
  state: MemoryHashSnapshot;
}

type OnError = (error: unknown, context: string) => void;

/** Puts back what the last graceful close saved (embedded mode), and deletes the file so it runs once. */
export function restoreSavedState(embedded: EvaluatorQueueAndState['embedded'], file: string | undefined, onError: OnError): void {
  if (!embedded || !file) return;
  const saved = readSavedState(file, onError);
  if (!saved) return;
  embedded.store.restore(saved.state);
  embedded.queue.restore(saved.queue);
}

function readSavedState(file: string, onError: OnError): SavedEvaluatorState | undefined {
  if (!existsSync(file)) return undefined;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as SavedEvaluatorState;
    // Read once: a second start must not run the same jobs again.
    rmSync(file, { force: true });
    return saved;
  } catch (error) {
    onError(error, 'restore-state');
    return undefined;
  }
}

/** Saves queued evaluations and session state of an embedded evaluator (nothing to save: no file). */
export function saveState(embedded: EvaluatorQueueAndState['embedded'], file: string | undefined, onError: OnError): void {
  if (!embedded || !file) return;
  const saved: SavedEvaluatorState = { queue: embedded.queue.snapshot(), state: embedded.store.snapshot() };
  if (saved.queue.jobs.length === 0 && saved.state.length === 0) return;
  try {
    writeFileSync(`${file}.tmp`, JSON.stringify(saved));
    renameSync(`${file}.tmp`, file);
  } catch (error) {
    onError(error, 'save-state');
  }
}
