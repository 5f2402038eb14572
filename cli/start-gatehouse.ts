import { dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ClickHouseClient } from '@clickhouse/client';
import type { Redis } from 'ioredis';
import { loadDeploymentConfig, loadPolicyFile, resolveConfigPath } from '../shared/config/load-config.ts';
import type { DeploymentConfig } from '../shared/config/config-schema.ts';
import type { PolicyDocument } from '../shared/policy/policy-schema.ts';
import { createClickHouse } from '../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../shared/clickhouse/migrate.ts';
import { createAnalystSql } from '../shared/clickhouse/create-analyst-sql.ts';
import { DiskSpool } from '../shared/storage/disk-spool.ts';
import { BatchWriter } from '../shared/storage/batch-writer.ts';
import { WriteAheadJournal } from '../shared/storage/write-ahead-journal.ts';
import { recoverJournaledRows } from '../shared/storage/recover-journaled-rows.ts';
import { acquireDataDirLock, engineLockError } from '../shared/storage/data-dir-lock.ts';
import { createLogger } from '../shared/logging/create-logger.ts';
import { checkAdminTokens } from '../shared/config/admin-token-rules.ts';
import { countTrailingFailedToolResults } from '../shared/tool-signals/count-trailing-failed-tool-results.ts';
import { buildGatewayApp } from '../gateway/app.ts';
import type { GatewayContext } from '../gateway/context.ts';
import { KeyStore } from '../gateway/state/key-store.ts';
import { createTracing } from '../gateway/telemetry/tracing.ts';
import { createMetrics } from '../gateway/telemetry/metrics.ts';
import { adminTokenEntries, createRequireRole } from '../gateway/plugins/admin-auth.ts';
import { closeUpstreamPools } from '../gateway/transport/upstream-pool.ts';
import { CircuitBreaker, renderCircuitMetrics } from '../gateway/transport/circuit-breaker.ts';
import { forwardTranslated } from '../gateway/forward/forward-translated.ts';
import { startGovernance } from '../gateway/governance/start-governance.ts';
import { startCheckpointBeacon } from '../gateway/governance/checkpoint-beacon.ts';
import { verifyOidcSubject } from '../gateway/governance/verify-oidc-approver.ts';
import { createStateRedis } from '../gateway/state/create-state-redis.ts';
import { MemoryAffinityStore } from '../gateway/state/memory-affinity-store.ts';
import { RedisAffinityStore } from '../gateway/state/redis-affinity-store.ts';
import { MemoryBudgetLedger } from '../gateway/state/memory-budget-ledger.ts';
import { RedisBudgetLedger } from '../gateway/state/redis-budget-ledger.ts';
import { createBudgetGate } from '../gateway/state/budget-gate.ts';
import { WebhookAlerter } from '../gateway/alerts/webhook-alerter.ts';
import { renderStateMetrics } from '../gateway/state/state-metrics.ts';
import { SpanRowProcessor } from '../collector/span-row-processor.ts';
import { startEvaluator, evaluatorOptionsFromConfig, type Evaluator } from '../evaluator/start-evaluator.ts';
import type { OptimizerLoop } from './optimizer-loop.ts';
import { OtlpExportProcessor, renderOtlpMetrics } from '../gateway/telemetry/otlp-export.ts';
import { MemoryRateLimiter, RedisRateLimiter } from '../gateway/state/rate-limiter.ts';

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
  evaluator: Evaluator | undefined;
  optimizer: OptimizerLoop | undefined;
  governance: Awaited<ReturnType<typeof startGovernance>>;
  /** The bootstrap policy file as read (plain keys included), for start-up messages. */
  bootstrapPolicy: PolicyDocument;
  /** Where the bootstrap policy file is. */
  policyFile: string;
  /** Drains in-flight requests, flushes spans and audit events, closes storage. Runs once. */
  close(): Promise<void>;
}

/** Resolves when `redis` is ready or after `timeoutMillis` (later commands then fail fast and degrade). */
function redisConnected(redis: Redis, timeoutMillis: number): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      redis.off('ready', done);
      resolve();
    };
    const timer = setTimeout(done, timeoutMillis);
    redis.once('ready', done);
  });
}

/** Opens ClickHouse and applies the migrations; an engine lock held outside Gatehouse is named, not dumped. */
async function openClickHouse(config: DeploymentConfig, dataDir: string): Promise<ClickHouseClient> {
  const clickhouse = await createClickHouse({ url: config.clickhouse.url, database: config.clickhouse.database, dataDir, username: config.clickhouse.username, password: config.clickhouse.password });
  try {
    await migrate(clickhouse, config.clickhouse.database);
  } catch (error) {
    await clickhouse.close().catch(() => undefined);
    throw engineLockError(error, dataDir);
  }
  return clickhouse;
}

const CONSOLE_DIST = resolve(import.meta.dirname, '..', 'console', 'dist');

/**
 * Composes a Gatehouse process. Embedded (no `redis.url`): every role in one process, chDB
 * in-process, in-memory hot state rebuilt from ClickHouse. Distributed: the same code with Redis
 * for budgets, affinity, hot-reload and BullMQ, and a ClickHouse server.
 */
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
  // Before anything opens: a weak admin token off loopback refuses the start.
  for (const warning of checkAdminTokens(config.admin.tokens, config.server.host)) logger.warn(warning);
  const bootstrapPolicy = loadPolicyFile(loaded.policyFile, environment);

  // Before anything opens the directory: a second process gets one line naming the owner, not chDB's stack trace.
  const dataDirLock = acquireDataDirLock(dataDir);
  const clickhouse = await openClickHouse(config, dataDir).catch((error: unknown) => {
    dataDirLock.release();
    throw error;
  });
  const database = config.clickhouse.database;
  const analystSql = await createAnalystSql(config, clickhouse, dataDir);

  const spoolDirectory = resolve(dataDir, 'spool');
  const spool = new DiskSpool(spoolDirectory, config.spool.max_bytes, (message, details) => logger.warn(details, message));
  // Span rows wait up to a second for their insert: journaled first, a kill -9 loses none of them
  // (and none of the spend the embedded ledger rebuilds from them).
  const spanJournal = new WriteAheadJournal(resolve(dataDir, 'span-journal'), 'spans');
  const writer = new BatchWriter({
    client: clickhouse,
    database,
    spool,
    journals: { spans: spanJournal },
    insertTimeoutMillis: config.clickhouse.insert_timeout_ms,
    onError: (error, table) => logger.warn({ err: { message: (error as Error).message }, table }, 'ClickHouse write failed; batch spooled'),
  });
  const recoveredSpans = await recoverJournaledRows({ client: clickhouse, database, table: 'spans', keyColumn: 'request_id', journal: spanJournal, writer, spoolDirectory });
  if (recoveredSpans > 0) logger.warn({ rows: recoveredSpans }, 'span rows a stopped process had not written were queued again from the span journal');
  const redis: Redis | undefined = config.redis.url
    ? createStateRedis(config.redis.url, { onError: (error) => logger.warn({ err: { message: error.message } }, 'Redis connection problem') })
    : undefined;
  const keyPrefix = config.redis.key_prefix;
  // The state client never queues commands while disconnected, and governance seeds the audit chain
  // head in Redis at once: wait (bounded) for the connection instead of failing the start on a race.
  if (redis) await redisConnected(redis, 2_000);

  const governance = await startGovernance({
    client: clickhouse,
    database,
    dataDir,
    systemKeyFile: config.system_key_file,
    configDir: dirname(loaded.file),
    writer,
    spoolDirectory,
    bootstrapDocument: bootstrapPolicy,
    redis,
    redisKeyPrefix: keyPrefix,
    requireDistinctApprover: config.governance.require_distinct_approver,
    onError: (error, component) => logger.warn({ err: { message: (error as Error).message }, component }, 'governance background error'),
  });
  const policy = governance.store;
  const audit = governance.audit;

  const keys = new KeyStore(clickhouse, database);
  await keys.load(policy.current().document);
  policy.onChange((active) => void keys.applyPolicyKeys(active.document).catch((error: unknown) => logger.warn({ err: error }, 'applying policy keys failed')));
  if (redis) keys.startRefreshing(2_000, (error) => logger.warn({ err: { message: (error as Error).message } }, 'key refresh failed'));

  const metrics = createMetrics();
  const otlp = config.telemetry.otlp ? new OtlpExportProcessor(config.telemetry.otlp, (error) => logger.warn({ err: { message: error.message } }, 'OTLP span export failed')) : undefined;
  const tracing = createTracing(new SpanRowProcessor(writer), ...(otlp ? [otlp] : []));
  const alerter = new WebhookAlerter({
    url: () => policy.current().document.alerts.webhook_url,
    onError: (error, event, attempt) => logger.warn({ err: { message: (error as Error).message }, alert: event.event, attempt }, 'alert webhook delivery failed'),
  });

  const stopCheckpointBeacon = startCheckpointBeacon({
    audit,
    signer: governance.systemKey,
    alert: (event) => alerter.send(event),
    intervalMillis: config.governance.audit_checkpoint_interval_seconds * 1000,
  });

  const affinity: (RedisAffinityStore | MemoryAffinityStore) & { close?: () => Promise<void> } = redis ? new RedisAffinityStore({ redis, keyPrefix }) : new MemoryAffinityStore();
  let ledger: (MemoryBudgetLedger | RedisBudgetLedger) & { close?: () => Promise<void> };
  if (redis) {
    const redisLedger = new RedisBudgetLedger({ redis, keyPrefix, onUnavailable: config.redis.on_unavailable, affinity: affinity as RedisAffinityStore, onError: (error, operation) => logger.warn({ err: { message: (error as Error).message }, operation }, 'budget ledger degraded') });
    await redisLedger.ready();
    ledger = redisLedger;
  } else {
    const memoryLedger = new MemoryBudgetLedger({ affinity: affinity as MemoryAffinityStore });
    // Spans still spooled from before a crash or an outage carry spend: land them before summing.
    await writer.replaySpool();
    await writer.flush(); // spans recovered from the journal, too
    const timeZones = Object.fromEntries(Object.entries(policy.current().document.cost_centers).map(([name, center]) => [name, center.timezone]));
    const { rebuildLedgerFromClickHouse } = await import('../gateway/state/rebuild-budget-ledger.ts');
    await rebuildLedgerFromClickHouse(memoryLedger, clickhouse, database, Date.now(), { timeZones });
    ledger = memoryLedger;
  }
  const breaker = new CircuitBreaker({
    concurrencyFor: (target) => config.providers[target.split('/')[0] ?? '']?.max_concurrency,
    onTransition: (change) => {
      const details = { target: change.target, from: change.from, to: change.to, window_failures: change.failures, window_requests: change.requests, last_failure: change.lastFailure };
      logger.warn(details, `upstream circuit ${change.target} ${change.from} → ${change.to}`);
      // Opening and closing are audited (an operator asks "when was openai/gpt-5.5 cut off, and why");
      // half-open is a probe, logged only.
      if (change.to === 'open' && change.from === 'closed') audit.record({ actor: 'gateway', action: 'breaker.opened', subject: change.target, details });
      if (change.to === 'closed') audit.record({ actor: 'gateway', action: 'breaker.closed', subject: change.target, details });
    },
  });

  // Distributed gateways enqueue for remote workers; an embedded process evaluates only with the evaluator role.
  const evaluator = roles.includes('evaluator') || (roles.includes('gateway') && redis !== undefined)
    ? await startEvaluator({ ...evaluatorOptionsFromConfig(config, writer, roles.includes('evaluator')), stateFile: resolve(dataDir, 'evaluator-state.json'), onError: (error, where) => logger.warn({ err: { message: (error as Error).message }, where }, 'evaluator error') })
    : undefined;

  const context: GatewayContext = {
    config,
    logger,
    policy,
    keys,
    tracing,
    metrics,
    audit,
    denials: governance.denials,
    clickhouse,
    analystSql,
    database,
    writer,
    requireRole: createRequireRole(adminTokenEntries(config.admin.tokens), {
      settings: () => policy.current().document.oidc,
      approverOf: (subject) => policy.current().document.approvers.find((approver) => approver.oidc_subject === subject)?.id,
      verify: verifyOidcSubject,
    }),
    budgets: createBudgetGate({
      ledger,
      audit,
      alert: (event) => alerter.send(event),
      onError: (error) => logger.warn({ err: error }, 'budget settle failed'),
      onCrossing: (crossing, costCenter) => metrics.budgetStageTransitions.inc({ cost_center: costCenter, stage: crossing.stage, scope: crossing.scope.kind }),
    }),
    affinity,
    upstreamGuard: breaker,
    rateLimiter: redis ? new RedisRateLimiter({ redis, keyPrefix, onError: (error) => logger.warn({ err: { message: (error as Error).message } }, 'rate limiter degraded (requests pass)') }) : new MemoryRateLimiter(),
    countTrailingToolFailures: (body) => countTrailingFailedToolResults(body),
    forwardTranslated,
    onTurnComplete: evaluator ? (record) => evaluator.handleTurn(record) : undefined,
    alert: (event) => alerter.send(event as never),
    readinessChecks: [
      async () => {
        const ping = await clickhouse.ping();
        return { name: 'clickhouse', ok: ping.success, detail: ping.success ? 'reachable' : 'unreachable (spans are spooled to disk)' };
      },
    ],
    extraMetrics: () => renderCircuitMetrics(breaker.snapshot()) + renderStateMetrics({ ledger: ledger instanceof RedisBudgetLedger ? ledger.stats() : undefined, alerts: alerter.stats() }) + renderOtlpMetrics(otlp?.stats),
    draining: false,
  };

  // Role-specific modules are imported only by the processes that run the role: a gateway replica
  // does not carry the optimizer, the OTLP decoder (protobufjs) or the embedded engine's HTTP endpoint.
  const optimizer = roles.includes('optimizer') ? (await import('./optimizer-loop.ts')).startOptimizerLoop({ config, clickhouse, database, governance, logger, alert: (event) => alerter.send(event as never) }) : undefined;

  const app = await buildGatewayApp(context, {
    clientRoutes: roles.includes('gateway'),
    adminPlugins: [governance.routes(context.requireRole), ...(optimizer ? [optimizer.routes(context.requireRole)] : [])],
    opsPlugins: [
      ...(config.clickhouse.url === 'embedded'
        ? [
            async (instance: FastifyInstance) => {
              // Analysts' ClickHouse tools read the embedded engine here; admin tokens may also write,
              // which is how the other processes of a one-machine distributed deployment share it.
              const { clickhouseHttpRoutes } = await import('../gateway/admin/clickhouse-http-routes.ts');
              await instance.register(clickhouseHttpRoutes, { clickhouse, analystSql, requireRole: context.requireRole, writeRole: 'admin' });
            },
          ]
        : []),
      ...(roles.includes('collector')
        ? [
            async (instance: FastifyInstance) => {
              const { otlpRoutes } = await import('../collector/otlp-routes.ts');
              await instance.register(otlpRoutes, { writer });
            },
          ]
        : []),
    ],
    console: {
      distDir: CONSOLE_DIST,
      database,
      requireRole: context.requireRole,
      oidc: () => {
        const oidc = policy.current().document.oidc;
        return oidc ? { issuer: oidc.issuer, client_id: oidc.audience } : undefined;
      },
    },
  });

  let url = '';
  if (options.listen !== false) url = await app.listen({ host: config.server.host, port: config.server.port });

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      context.draining = true;
      // Analyst queries are killed in the engine first, so none holds the drain (or the engine) open.
      await analystSql.close();
      const drainTimer = setTimeout(() => app.server.closeAllConnections(), config.server.drain_timeout_ms);
      drainTimer.unref();
      // server.close() closes idle keep-alive connections once; a client whose stream finishes
      // during the drain keeps its connection idle and would hold the close open until the drain
      // timeout. Sweep those as they appear.
      const idleSweep = setInterval(() => app.server.closeIdleConnections(), 100);
      idleSweep.unref();
      await app.close();
      clearInterval(idleSweep);
      clearTimeout(drainTimer);
      await optimizer?.stop();
      await tracing.shutdown();
      await evaluator?.close();
      stopCheckpointBeacon();
      await alerter.flush().catch(() => undefined);
      await governance.close();
      await writer.shutdown();
      keys.stop();
      await ledger.close?.();
      await affinity.close?.();
      redis?.disconnect();
      await closeUpstreamPools();
      await clickhouse.close();
      dataDirLock.release();
    })();
    return closing;
  };
  return { url, roles, app, context, config, clickhouse, writer, evaluator, optimizer, governance, bootstrapPolicy, policyFile: loaded.policyFile, close };
}
