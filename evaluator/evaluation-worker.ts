import { SpanStatusCode, TraceFlags, type Link } from '@opentelemetry/api';
import type { JobWorker } from '../shared/queue/job-queue.ts';
import { SCORE_SESSION_JOB, SCORE_TURN_JOB } from '../shared/queue/queue-names.ts';
import { PermanentEvaluationError } from '../shared/queue/evaluation-errors.ts';
import { createEvaluatorTracing } from './evaluator-tracing.ts';
import type { EvaluatorQueue } from './evaluator-queue.ts';
import { processSessionJob } from './process-session-job.ts';
import { processTurnJob, type EvaluatorRuntime } from './process-turn-job.ts';
import type { ScoreSink } from './score-rows.ts';

/** Worker settings of StartEvaluatorOptions. */
export interface EvaluationWorkerOptions {
  sink: ScoreSink;
  concurrency?: number | undefined;
  lockDurationMillis?: number | undefined;
  stalledIntervalMillis?: number | undefined;
}

/** Runs turn and session jobs from the queue, each in an evaluation span linked to its request span. */
export function startEvaluationWorker(queue: EvaluatorQueue, runtime: EvaluatorRuntime, options: EvaluationWorkerOptions): JobWorker {
  const { tracer } = createEvaluatorTracing(options.sink);
  return queue.startWorker(
    (job) =>
      // The evaluation span links back to the request span whose traceparent rode in the job options.
      tracer.startActiveSpan(`evaluate ${job.name}`, { links: linksOf(job.traceparent), attributes: { 'gatehouse.job_id': job.id } }, async (span) => {
        try {
          if (job.name === SCORE_TURN_JOB) return await processTurnJob(job.data, runtime, job.id);
          if (job.name === SCORE_SESSION_JOB) return await processSessionJob(job.data, runtime, job.id);
          throw new PermanentEvaluationError(`unknown job name ${job.name}`);
        } catch (error) {
          span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
          throw error;
        } finally {
          span.end();
        }
      }),
    {
      concurrency: options.concurrency ?? 4,
      ...(options.lockDurationMillis !== undefined ? { lockDurationMillis: options.lockDurationMillis } : {}),
      ...(options.stalledIntervalMillis !== undefined ? { stalledIntervalMillis: options.stalledIntervalMillis } : {}),
    },
  );
}

function linksOf(traceparent: string | undefined): Link[] {
  const match = traceparent ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(traceparent) : null;
  if (!match) return [];
  return [{ context: { traceId: match[1] as string, spanId: match[2] as string, traceFlags: Number.parseInt(match[3] as string, 16) & TraceFlags.SAMPLED, isRemote: true } }];
}
