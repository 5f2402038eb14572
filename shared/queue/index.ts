export { EVALUATOR_QUEUE, SCORE_TURN_JOB, SCORE_SESSION_JOB, EVALUATOR_METRIC_NAMES } from './queue-names.ts';
export { PermanentEvaluationError, EvaluationDeferredError } from './evaluation-errors.ts';
export {
  backoffDelay,
  type AddJobOptions,
  type BackoffOptions,
  type DeduplicationOptions,
  type JobProcessor,
  type JobQueue,
  type JobWorker,
  type QueueCounts,
  type QueueJob,
  type WorkerCounters,
  type WorkerOptions,
} from './job-queue.ts';
export { MemoryJobQueue, type MemoryJobQueueOptions } from './memory-job-queue.ts';
export { BullmqJobQueue, type BullmqJobQueueOptions } from './bullmq-job-queue.ts';
