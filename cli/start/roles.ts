import { resolve } from 'node:path';
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import type { GatewayContext } from '../../gateway/context.ts';
import type { RunningGovernance } from '../../shared/governance/start-governance.ts';
import type { WebhookAlerter } from '../../gateway/alerts/webhook-alerter.ts';
import type { Evaluator } from '../../evaluator/start-evaluator.ts';
import type { OptimizerLoop } from '../../optimizer/optimizer-loop.ts';
import type { ExplorationBoard } from '../../shared/exploration/exploration-board.ts';
import type { Storage } from './open-storage.ts';

/** Roles of a process: all four in embedded mode, one each in distributed mode. */
export type Role = 'gateway' | 'collector' | 'evaluator' | 'optimizer';

/** `gatehouse start`: every role in one process (embedded). */
export const ALL_IN_ONE: readonly Role[] = ['gateway', 'collector', 'evaluator', 'optimizer'];

// Role-specific modules below are imported only by the processes that run the role: a gateway replica
// does not carry the optimizer, the OTLP decoder (protobufjs) or the embedded engine's HTTP endpoint,
// nor, without Redis, the evaluator (its scorers, JSON-schema validation and BullMQ). Every module a
// process holds is heap that each full garbage collection marks again, request after request.

/**
 * Evaluator role: the workers that score turns and sessions. A distributed gateway runs it without
 * workers, to enqueue its turns for remote ones; an embedded process evaluates only with the role.
 */
export async function startEvaluatorRole(roles: readonly Role[], config: DeploymentConfig, storage: Storage, dataDir: string, logger: Logger): Promise<Evaluator | undefined> {
  const runWorkers = roles.includes('evaluator');
  if (!runWorkers && !(roles.includes('gateway') && config.redis.url)) return undefined;
  const { startEvaluator, evaluatorOptionsFromConfig } = await import('../../evaluator/start-evaluator.ts');
  return startEvaluator({
    ...evaluatorOptionsFromConfig(config, storage.writer, runWorkers),
    stateFile: resolve(dataDir, 'evaluator-state.json'),
    onError: (error, where) => logger.warn({ err: { message: (error as Error).message }, where }, 'evaluator error'),
  });
}

/** Optimizer role: scheduled runs (with the exploration plans they publish to `plans`), the rollback guard and their admin routes. */
export async function startOptimizerRole(roles: readonly Role[], config: DeploymentConfig, storage: Storage, governance: RunningGovernance, alerter: WebhookAlerter, logger: Logger, plans: ExplorationBoard): Promise<OptimizerLoop | undefined> {
  if (!roles.includes('optimizer')) return undefined;
  const { startOptimizerLoop } = await import('../../optimizer/optimizer-loop.ts');
  return startOptimizerLoop({ config, clickhouse: storage.clickhouse, database: storage.database, governance, logger, alert: (event) => alerter.send(event as never), plans });
}

/** Collector role: OTLP/HTTP trace intake from other services' exporters. */
export function collectorPlugins(roles: readonly Role[], storage: Storage): FastifyPluginAsync[] {
  if (!roles.includes('collector')) return [];
  return [
    async (instance) => {
      const { otlpRoutes } = await import('../../collector/otlp-routes.ts');
      await instance.register(otlpRoutes, { writer: storage.writer });
    },
  ];
}

/**
 * An embedded engine (`clickhouse.url: embedded`, whatever the roles): analysts' ClickHouse tools read
 * it over /clickhouse; admin tokens may also write, which is how the other processes of a one-machine
 * distributed deployment share it.
 */
export function embeddedEnginePlugins(config: DeploymentConfig, storage: Storage, context: GatewayContext): FastifyPluginAsync[] {
  if (config.clickhouse.url !== 'embedded') return [];
  return [
    async (instance) => {
      const { clickhouseHttpRoutes } = await import('../../gateway/admin/clickhouse-http-routes.ts');
      await instance.register(clickhouseHttpRoutes, { clickhouse: storage.clickhouse, analystSql: storage.analystSql, requireRole: context.requireRole, writeRole: 'admin' });
    },
  ];
}
