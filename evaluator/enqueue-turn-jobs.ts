import { SCORE_SESSION_JOB, SCORE_TURN_JOB } from '../shared/queue/queue-names.ts';
import type { TurnSignals } from '../shared/tool-signals/extract-turn-signals.ts';
import type { EvaluatorQueue } from './evaluator-queue.ts';
import type { SessionJobData } from './process-session-job.ts';

/** BullMQ ids cannot contain `:`. */
function jobIdPart(value: string): string {
  return value.replace(/[^A-Za-z0-9_.-]/g, '_');
}

function traceparentOf(signals: TurnSignals): string | undefined {
  return /^[0-9a-f]{32}$/.test(signals.traceId) && /^[0-9a-f]{16}$/.test(signals.spanId) ? `00-${signals.traceId}-${signals.spanId}-01` : undefined;
}

/**
 * Enqueues a turn's scoring job (id from request id and scorer-set version: a resent turn is not
 * scored twice) and pushes the session's delayed completion job forward. `track` receives each add;
 * `onTurnQueued` runs once the turn job is in the queue.
 */
export function enqueueTurnJobs(
  queue: EvaluatorQueue,
  signals: TurnSignals,
  setting: { scorerSetVersion: string; sessionIdleMillis: number; onTurnQueued?: (() => void) | undefined },
  track: (promise: Promise<unknown>, context: string) => void,
): void {
  const traceparent = traceparentOf(signals);
  track(
    queue
      .add(SCORE_TURN_JOB, signals, {
        jobId: `turn.${jobIdPart(signals.requestId)}.${setting.scorerSetVersion}`,
        attempts: 5,
        backoff: { type: 'exponential', delayMillis: 500 },
        ...(traceparent ? { traceparent } : {}),
      })
      .then(() => setting.onTurnQueued?.()),
    'enqueue-turn',
  );
  if (signals.sessionId === '') return;
  const sessionData: SessionJobData = {
    sessionId: signals.sessionId,
    lastRequestId: signals.requestId,
    lastTurnSeq: signals.turnSeq,
    lastHandledAtMillis: signals.handledAtMillis,
  };
  track(
    queue.add(SCORE_SESSION_JOB, sessionData, {
      delayMillis: setting.sessionIdleMillis,
      attempts: 5,
      backoff: { type: 'exponential', delayMillis: 1000 },
      // Debounce: a still-delayed completion job is replaced (new data, new delay); one that is
      // running gets a successor once it finishes.
      deduplication: { id: `session.${jobIdPart(signals.sessionId)}`, replace: true, keepLastIfActive: true },
    }),
    'enqueue-session',
  );
}
