import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ClickHouseClient } from '@clickhouse/client';
import type { DeploymentConfig } from '../shared/config/config-schema.ts';
import type { PolicyDocument } from '../shared/policy/policy-schema.ts';
import type { BatchWriter } from '../shared/storage/batch-writer.ts';
import type { GatewayContext } from '../gateway/context.ts';
import type { RunningGovernance } from '../shared/governance/start-governance.ts';
import type { Evaluator } from '../evaluator/start-evaluator.ts';
import type { OptimizerLoop } from '../optimizer/optimizer-loop.ts';
import type { ExplorationBoard } from '../shared/exploration/exploration-board.ts';
import { loadStartConfig, type StartConfigOptions } from './start/start-config.ts';
import { openStorage } from './start/open-storage.ts';
import { connectStateRedis, openKeyStore, openStateBackends } from './start/state-backends.ts';
import { openGovernance, startAuditCheckpoints } from './start/governance.ts';
import { startTelemetry } from './start/telemetry.ts';
import { createGatewayContext } from './start/gateway-context.ts';
import { ALL_IN_ONE, startEvaluatorRole, startOptimizerRole, type Role } from './start/roles.ts';
import { buildProcessApp } from './start/build-app.ts';
import { closeGatehouse } from './start/close-gatehouse.ts';

export type { Role };

/** What the config needs (file, flag and test overrides: StartConfigOptions), and what the process runs. */
export interface StartOptions extends StartConfigOptions {
  /** @defaultValue all roles */
  roles?: Role[] | undefined;
  listen?: boolean;
}

export interface RunningGatehouse {
  url: string;
  roles: Role[];
  app: FastifyInstance;
  context: GatewayContext;
  config: DeploymentConfig;
  clickhouse: ClickHouseClient;
  writer: BatchWriter;
  evaluator: Evaluator | undefined;
  optimizer: OptimizerLoop | undefined;
  /** The exploration plans this process holds (and, with the optimizer role, publishes). */
  explorationBoard: ExplorationBoard;
  governance: RunningGovernance;
  /** The bootstrap policy file as read (plain keys included), for start-up messages. */
  bootstrapPolicy: PolicyDocument;
  /** Where the bootstrap policy file is. */
  policyFile: string;
  /** Drains in-flight requests, flushes spans and audit events, closes storage. Runs once. */
  close(): Promise<void>;
}

/**
 * Composes a Gatehouse process, one step per module of ./start/. Embedded (no `redis.url`): every
 * role in one process, chDB in-process, in-memory hot state rebuilt from ClickHouse. Distributed: the
 * same code with Redis for budgets, affinity, hot-reload and BullMQ, and a ClickHouse server.
 */
export async function startGatehouse(options: StartOptions = {}): Promise<RunningGatehouse> {
  const roles: Role[] = options.roles ?? [...ALL_IN_ONE];
  const start = loadStartConfig(options);
  const { config, logger } = start;
  const storage = await openStorage(config, start.dataDir, logger);
  const redis = await connectStateRedis(config, logger);
  const governance = await openGovernance(start, storage, redis);
  const keys = await openKeyStore(storage, governance.store, redis, logger);
  const telemetry = await startTelemetry(config, storage.writer, governance.store, logger);
  const stopCheckpointBeacon = startAuditCheckpoints(start, governance, telemetry.alerter);
  const state = await openStateBackends(config, redis, storage, governance.store, logger);
  const evaluator = await startEvaluatorRole(roles, config, storage, start.dataDir, logger);
  const context = createGatewayContext({ config, logger, storage, governance, keys, telemetry, state, evaluator });
  const optimizer = await startOptimizerRole(roles, config, storage, governance, telemetry.alerter, logger, state.explorationPlans);
  const app = await buildProcessApp({ roles, config, context, storage, governance, optimizer });
  const url = options.listen === false ? '' : await app.listen({ host: config.server.host, port: config.server.port });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= closeGatehouse({ app, context, drainTimeoutMillis: config.server.drain_timeout_ms, storage, redis, governance, keys, telemetry, state, stopCheckpointBeacon, evaluator, optimizer }));
  const { clickhouse, writer } = storage;
  return { url, roles, app, context, config, clickhouse, writer, evaluator, optimizer, explorationBoard: state.explorationPlans, governance, bootstrapPolicy: start.bootstrapPolicy, policyFile: start.policyFile, close };
}
