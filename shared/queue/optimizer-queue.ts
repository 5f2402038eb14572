/**
 * Names of the optimizer's repeatable jobs (distributed mode: BullMQ on Redis). In embedded mode
 * the same work runs on an in-process timer (`optimizer/schedule.ts`).
 * @see https://docs.bullmq.io/guide/job-schedulers
 */

/** The optimizer's BullMQ queue. */
export const OPTIMIZER_QUEUE = 'gatehouse-optimizer';

/** Runs the optimizer over every cost center (or one) and stores its proposals. */
export const OPTIMIZER_RUN_JOB = 'optimizer-run';

/** Checks every watched activation with the rollback guard. */
export const ROLLBACK_GUARD_JOB = 'rollback-guard-check';

/** Job scheduler ids: upserting under a fixed id keeps exactly one schedule per deployment. */
export const OPTIMIZER_RUN_SCHEDULER_ID = 'optimizer-run-every';
export const ROLLBACK_GUARD_SCHEDULER_ID = 'rollback-guard-every';

/** Data of an {@link OPTIMIZER_RUN_JOB} (JSON only). */
export interface OptimizerRunJobData {
  seed: number;
  /** Only this cost center; absent = all. */
  costCenter?: string;
}

/** Data of a {@link ROLLBACK_GUARD_JOB} (JSON only; the watched activations are read at run time). */
export interface RollbackGuardJobData {
  /** Only activations of this cost center; absent = all. */
  costCenter?: string;
}
