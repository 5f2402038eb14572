import type { ClickHouseClient } from '@clickhouse/client';
import type { FastifyInstance, preHandlerAsyncHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { AdminRole, DeploymentConfig } from '../shared/config/config-schema.ts';
import { startOptimizerSchedule } from './schedule.ts';
import { startOptimizerJobs, type OptimizerJobs } from './optimizer-jobs.ts';
import type { OptimizerGovernance } from './optimizer-governance.ts';
import { createOptimizerRun, type ExplorationPublisher, type OptimizerRun, type RunInput } from './optimizer-run.ts';
import { createRollbackGuard, type GuardCheck } from './rollback-orchestration.ts';
import { optimizerRoutes } from './optimizer-routes.ts';

export type { OptimizerRun } from './optimizer-run.ts';
export { RULE_ACCEPTED_ACTION, ROLLBACK_COOLDOWN_DAYS, type GuardCheck } from './rollback-orchestration.ts';

export interface OptimizerLoop {
  run(input?: RunInput): Promise<OptimizerRun>;
  /** One look of the rollback guard at the active version's optimizer rules. */
  guard(): Promise<GuardCheck[]>;
  routes(requireRole: (role: AdminRole) => preHandlerAsyncHookHandler): (app: FastifyInstance) => Promise<void>;
  /** Distributed mode (Redis configured): the BullMQ jobs this replica consumes. */
  jobs?: Promise<OptimizerJobs> | undefined;
  stop(): Promise<void>;
}

export interface OptimizerLoopOptions {
  config: DeploymentConfig;
  clickhouse: ClickHouseClient;
  database: string;
  governance: OptimizerGovernance;
  logger: Logger;
  /** Alert hook for automatic rollbacks. */
  alert?: (event: Record<string, unknown>) => void;
  /** Where exploration plans are published (the gateways' board); absent = plans are computed and shown, never applied. */
  plans?: ExplorationPublisher | undefined;
}

const warnOf = (logger: Logger, message: string) => (error: unknown) => logger.warn({ err: { message: (error as Error).message } }, message);

/** Embedded mode: the in-process timers of runs and guard looks. */
function startTimers(config: DeploymentConfig, run: () => Promise<unknown>, guard: () => Promise<unknown>, logger: Logger): { stop(): Promise<void> } {
  const schedule = startOptimizerSchedule({
    intervalSeconds: config.optimizer.interval_seconds,
    run: async () => {
      await run();
    },
    onError: warnOf(logger, 'scheduled optimizer run failed'),
  });
  const guardTimer = setInterval(() => {
    guard().catch(warnOf(logger, 'rollback guard check failed'));
  }, config.optimizer.guard_interval_seconds * 1000);
  guardTimer.unref();
  return {
    async stop() {
      clearInterval(guardTimer);
      await schedule.stop();
    },
  };
}

/** Distributed mode: repeatable BullMQ jobs, one run at a time across replicas (optimizer-jobs.ts). */
function startJobs(options: OptimizerLoopOptions, redisUrl: string, run: (input: RunInput) => Promise<unknown>, guard: () => Promise<unknown>): Promise<OptimizerJobs> {
  const { config, governance, logger } = options;
  const jobs = startOptimizerJobs({
    redisUrl,
    prefix: `${config.redis.key_prefix}bull`,
    intervalSeconds: config.optimizer.interval_seconds,
    guardIntervalSeconds: config.optimizer.guard_interval_seconds,
    seed: config.optimizer.seed,
    costCenters: () => Object.keys(governance.store.current().document.cost_centers).sort(),
    run: async (costCenter) => {
      await run({ costCenter });
    },
    guard: async () => {
      await guard();
    },
    onError: warnOf(logger, 'optimizer job failed'),
  });
  jobs.catch(warnOf(logger, 'optimizer job queue did not start'));
  return jobs;
}

/**
 * The closed loop around the optimizer: scheduled runs that file proposals with governance and publish
 * exploration plans (optimizer-run.ts), and the rollback guard (rollback-orchestration.ts), on timers in
 * embedded mode or BullMQ jobs in distributed mode.
 */
export function startOptimizerLoop(options: OptimizerLoopOptions): OptimizerLoop {
  const runs = createOptimizerRun(options);
  const guard = createRollbackGuard(options);
  const redisUrl = options.config.redis.url;
  const timers = redisUrl ? undefined : startTimers(options.config, runs.run, guard, options.logger);
  const jobs = redisUrl ? startJobs(options, redisUrl, runs.run, guard) : undefined;
  return {
    run: runs.run,
    guard,
    routes: (requireRole) => optimizerRoutes({ run: runs.run, last: runs.last, guard, plans: options.plans }, requireRole),
    jobs,
    async stop() {
      await timers?.stop();
      await (await jobs?.catch(() => undefined))?.stop();
    },
  };
}
