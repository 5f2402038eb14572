import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { GatewayContext } from '../../gateway/context.ts';
import type { RunningGovernance } from '../../shared/governance/start-governance.ts';
import type { KeyStore } from '../../gateway/state/key-store.ts';
import { closeUpstreamPools } from '../../gateway/transport/upstream-pool.ts';
import type { Evaluator } from '../../evaluator/start-evaluator.ts';
import type { OptimizerLoop } from '../../optimizer/optimizer-loop.ts';
import type { Storage } from './open-storage.ts';
import type { StateBackends } from './state-backends.ts';
import type { Telemetry } from './telemetry.ts';

export interface ClosingParts {
  app: FastifyInstance;
  context: GatewayContext;
  drainTimeoutMillis: number;
  storage: Storage;
  redis: Redis | undefined;
  governance: RunningGovernance;
  keys: KeyStore;
  telemetry: Telemetry;
  state: StateBackends;
  stopCheckpointBeacon: () => void;
  evaluator: Evaluator | undefined;
  optimizer: OptimizerLoop | undefined;
}

/** Stops taking requests and lets those in flight finish, within the drain timeout. */
async function drainHttp(app: FastifyInstance, drainTimeoutMillis: number): Promise<void> {
  const drainTimer = setTimeout(() => app.server.closeAllConnections(), drainTimeoutMillis);
  drainTimer.unref();
  // server.close() closes idle keep-alive connections once; a client whose stream finishes
  // during the drain keeps its connection idle and would hold the close open until the drain
  // timeout. Sweep those as they appear.
  const idleSweep = setInterval(() => app.server.closeIdleConnections(), 100);
  idleSweep.unref();
  await app.close();
  clearInterval(idleSweep);
  clearTimeout(drainTimer);
}

/**
 * Closes in dependency order: requests drain first, then the producers of rows (optimizer, tracing,
 * evaluator, audit) flush into the writer, the writer into ClickHouse, and the stores close last.
 */
export async function closeGatehouse(parts: ClosingParts): Promise<void> {
  const { storage, telemetry } = parts;
  parts.context.draining = true;
  // Analyst queries are killed in the engine first, so none holds the drain (or the engine) open.
  await storage.analystSql.close();
  await drainHttp(parts.app, parts.drainTimeoutMillis);
  await parts.optimizer?.stop();
  await telemetry.tracing.shutdown();
  await parts.evaluator?.close();
  parts.stopCheckpointBeacon();
  await telemetry.alerter.flush().catch(() => undefined);
  await parts.governance.close();
  await storage.writer.shutdown();
  parts.keys.stop();
  await parts.state.close();
  parts.redis?.disconnect();
  await closeUpstreamPools();
  await storage.clickhouse.close();
  storage.releaseDataDir();
}
