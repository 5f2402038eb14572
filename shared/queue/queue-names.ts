/** The evaluator's BullMQ queue (and the in-process queue's name in embedded mode). */
export const EVALUATOR_QUEUE = 'gatehouse-evaluator';

/** Scores one turn as soon as the gateway hands it over. Job id: `turn.<request id>.<scorer set version>`. */
export const SCORE_TURN_JOB = 'score-turn';

/** Scores a finished session; one delayed job per session, pushed back by every new turn. */
export const SCORE_SESSION_JOB = 'score-session';

/** Names under which the evaluator's numbers are exported (Prometheus style). */
export const EVALUATOR_METRIC_NAMES = {
  depth: 'gatehouse_evaluator_queue_depth',
  waiting: 'gatehouse_evaluator_jobs_waiting',
  active: 'gatehouse_evaluator_jobs_active',
  delayed: 'gatehouse_evaluator_jobs_delayed',
  failedKept: 'gatehouse_evaluator_jobs_failed',
  processed: 'gatehouse_evaluator_jobs_processed_total',
  failures: 'gatehouse_evaluator_job_failures_total',
  retries: 'gatehouse_evaluator_job_retries_total',
  deferrals: 'gatehouse_evaluator_job_deferrals_total',
  enqueueErrors: 'gatehouse_evaluator_enqueue_errors_total',
  lagMillis: 'gatehouse_evaluator_lag_ms',
  maxLagMillis: 'gatehouse_evaluator_lag_max_ms',
} as const;
