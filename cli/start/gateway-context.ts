import type { Logger } from 'pino';
import type { DeploymentConfig } from '../../shared/config/config-schema.ts';
import type { AuditSink } from '../../shared/audit/audit-event.ts';
import { countTrailingFailedToolResults } from '../../shared/tool-signals/count-trailing-failed-tool-results.ts';
import type { GatewayContext } from '../../gateway/context.ts';
import type { RunningGovernance } from '../../shared/governance/start-governance.ts';
import { verifyOidcSubject } from '../../shared/governance/verify-oidc-approver.ts';
import { adminTokenEntries, createRequireRole, type RequireRole } from '../../gateway/plugins/admin-auth.ts';
import { CircuitBreaker, renderCircuitMetrics } from '../../gateway/transport/circuit-breaker.ts';
import { forwardTranslated } from '../../gateway/forward/forward-translated.ts';
import { createBudgetGate } from '../../gateway/state/budget-gate.ts';
import { RedisBudgetLedger } from '../../gateway/state/redis-budget-ledger.ts';
import type { KeyStore } from '../../gateway/state/key-store.ts';
import { renderStateMetrics } from '../../gateway/state/state-metrics.ts';
import { renderOtlpMetrics } from '../../gateway/telemetry/otlp-export-metrics.ts';
import type { Evaluator } from '../../evaluator/start-evaluator.ts';
import type { Storage } from './open-storage.ts';
import type { StateBackends } from './state-backends.ts';
import type { Telemetry } from './telemetry.ts';

export interface GatewayParts {
  config: DeploymentConfig;
  logger: Logger;
  storage: Storage;
  governance: RunningGovernance;
  keys: KeyStore;
  telemetry: Telemetry;
  state: StateBackends;
  evaluator: Evaluator | undefined;
}

function circuitBreaker(config: DeploymentConfig, audit: AuditSink, logger: Logger): CircuitBreaker {
  return new CircuitBreaker({
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
}

/** Admin tokens of the config, and OIDC sign-ins of the active policy (approvers by their subject). */
function requireRoleOf(config: DeploymentConfig, governance: RunningGovernance): RequireRole {
  const policy = governance.store;
  return createRequireRole(adminTokenEntries(config.admin.tokens), {
    settings: () => policy.current().document.oidc,
    approverOf: (subject) => policy.current().document.approvers.find((approver) => approver.oidc_subject === subject)?.id,
    verify: verifyOidcSubject,
  });
}

/** Everything the gateway's routes use (gateway/context.ts), from the parts the process opened. */
export function createGatewayContext(parts: GatewayParts): GatewayContext {
  const { config, logger, storage, governance, telemetry, state, evaluator } = parts;
  const { audit } = governance;
  const { alerter, metrics } = telemetry;
  const breaker = circuitBreaker(config, audit, logger);
  return {
    config,
    logger,
    policy: governance.store,
    keys: parts.keys,
    tracing: telemetry.tracing,
    metrics,
    audit,
    denials: governance.denials,
    clickhouse: storage.clickhouse,
    analystSql: storage.analystSql,
    database: storage.database,
    writer: storage.writer,
    requireRole: requireRoleOf(config, governance),
    budgets: createBudgetGate({
      ledger: state.ledger,
      audit,
      alert: (event) => alerter.send(event),
      onError: (error) => logger.warn({ err: error }, 'budget settle failed'),
      onCrossing: (crossing, costCenter) => metrics.budgetStageTransitions.inc({ cost_center: costCenter, stage: crossing.stage, scope: crossing.scope.kind }),
    }),
    affinity: state.affinity,
    upstreamGuard: breaker,
    rateLimiter: state.rateLimiter,
    countTrailingToolFailures: (body) => countTrailingFailedToolResults(body),
    forwardTranslated,
    explorationPlan: (costCenter) => state.explorationPlans.get(costCenter),
    onTurnComplete: evaluator ? (record) => evaluator.handleTurn(record) : undefined,
    alert: (event) => alerter.send(event as never),
    readinessChecks: [
      async () => {
        const ping = await storage.clickhouse.ping();
        return { name: 'clickhouse', ok: ping.success, detail: ping.success ? 'reachable' : 'unreachable (spans are spooled to disk)' };
      },
    ],
    extraMetrics: () =>
      renderCircuitMetrics(breaker.snapshot()) + renderStateMetrics({ ledger: state.ledger instanceof RedisBudgetLedger ? state.ledger.stats() : undefined, alerts: alerter.stats() }) + renderOtlpMetrics(telemetry.otlp?.stats),
    draining: false,
  };
}
