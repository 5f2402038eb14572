import { resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ClickHouseClient } from '@clickhouse/client';
import { loadDeploymentConfig, loadPolicyFile, resolveConfigPath } from '../shared/config/load-config.ts';
import type { DeploymentConfig } from '../shared/config/config-schema.ts';
import { createClickHouse } from '../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../shared/clickhouse/migrate.ts';
import { DiskSpool } from '../shared/storage/disk-spool.ts';
import { BatchWriter } from '../shared/storage/batch-writer.ts';
import { createLogger } from '../shared/logging/create-logger.ts';
import { canonicalHash } from './bootstrap-policy.ts';
import { buildGatewayApp } from '../gateway/app.ts';
import type { GatewayContext } from '../gateway/context.ts';
import { StaticPolicyHolder } from '../gateway/policy/active-policy.ts';
import { KeyStore } from '../gateway/state/key-store.ts';
import { createTracing } from '../gateway/telemetry/tracing.ts';
import { createMetrics } from '../gateway/telemetry/metrics.ts';
import { adminTokenEntries, createRequireRole } from '../gateway/plugins/admin-auth.ts';
import { closeUpstreamAgents } from '../gateway/transport/upstream-agents.ts';
import { SpanRowExporter } from '../collector/span-row-exporter.ts';
import { SimpleAuditSink } from './simple-audit-sink.ts';

/** Roles of a process: all four in embedded mode, one each in distributed mode. */
export type Role = 'gateway' | 'collector' | 'evaluator' | 'optimizer';

export interface StartOptions {
  /** @defaultValue all roles */
  roles?: Role[] | undefined;
  configFile?: string | undefined;
  /** Overrides applied after the file is read (CLI flags, tests). */
  port?: number | undefined;
  host?: string | undefined;
  dataDir?: string | undefined;
  environment?: NodeJS.ProcessEnv;
  /** Tests: mutate the loaded config before anything starts. */
  configure?: ((config: DeploymentConfig) => void) | undefined;
  logger?: Logger | undefined;
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
  /** Drains in-flight requests, flushes spans and audit events, closes storage. Runs once. */
  close(): Promise<void>;
}

/** Starts every role in this process (embedded mode): gateway + collector (+ evaluator/optimizer when wired). */
export async function startGatehouse(options: StartOptions = {}): Promise<RunningGatehouse> {
  const environment = options.environment ?? process.env;
  const roles: Role[] = options.roles ?? ['gateway', 'collector', 'evaluator', 'optimizer'];
  const loaded = loadDeploymentConfig(resolveConfigPath(options.configFile, environment), environment);
  const config = loaded.config;
  if (options.port !== undefined) config.server.port = options.port;
  if (options.host !== undefined) config.server.host = options.host;
  if (options.dataDir !== undefined) config.data_dir = options.dataDir;
  options.configure?.(config);
  const dataDir = resolve(config.data_dir);
  const logger = options.logger ?? createLogger(config.logging.level, 'gatehouse');

  const bootstrapPolicy = loadPolicyFile(loaded.policyFile, environment);
  const clickhouse = await createClickHouse({ url: config.clickhouse.url, database: config.clickhouse.database, dataDir, username: config.clickhouse.username, password: config.clickhouse.password });
  const database = config.clickhouse.database;
  await migrate(clickhouse, database);

  const spool = new DiskSpool(resolve(dataDir, 'spool'), config.spool.max_bytes, (message, details) => logger.warn(details, message));
  const writer = new BatchWriter({
    client: clickhouse,
    database,
    spool,
    onError: (error, table) => logger.warn({ err: { message: (error as Error).message }, table }, 'ClickHouse write failed; batch spooled'),
  });
  const metrics = createMetrics();
  const exporter = new SpanRowExporter(writer);
  const tracing = createTracing(exporter);
  const audit = new SimpleAuditSink(writer);
  const policy = new StaticPolicyHolder({ version: 1, hash: canonicalHash(bootstrapPolicy), parentHash: '', approvedBy: 'system', document: bootstrapPolicy });
  const keys = new KeyStore(clickhouse, database);
  await keys.load(bootstrapPolicy);

  const context: GatewayContext = {
    config,
    logger,
    policy,
    keys,
    tracing,
    metrics,
    audit,
    clickhouse,
    database,
    writer,
    requireRole: createRequireRole(adminTokenEntries(config.admin.tokens)),
    readinessChecks: [
      async () => {
        const ping = await clickhouse.ping();
        return { name: 'clickhouse', ok: ping.success, detail: ping.success ? 'reachable' : 'unreachable (spans are spooled to disk)' };
      },
    ],
    draining: false,
  };
  const app = await buildGatewayApp(context);

  let url = '';
  if (options.listen !== false) {
    url = await app.listen({ host: config.server.host, port: config.server.port });
  }

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      context.draining = true;
      const drainTimer = setTimeout(() => app.server.closeAllConnections(), config.server.drain_timeout_ms);
      drainTimer.unref();
      await app.close();
      clearTimeout(drainTimer);
      await tracing.shutdown();
      await audit.flush();
      await writer.shutdown();
      keys.stop();
      await closeUpstreamAgents();
      await clickhouse.close();
    })();
    return closing;
  };
  return { url, roles, app, context, config, clickhouse, writer, close };
}
