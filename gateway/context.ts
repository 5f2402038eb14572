import type { ClickHouseClient } from '@clickhouse/client';
import type { AnalystSql } from '../shared/clickhouse/analyst-sql.ts';
import type { Logger } from 'pino';
import type { DeploymentConfig } from '../shared/config/config-schema.ts';
import type { AuditEvent, AuditSink } from '../shared/audit/audit-event.ts';
import type { GatewayError } from './errors/gateway-error.ts';
import type { BatchWriter } from '../shared/storage/batch-writer.ts';
import type { TurnRecord } from '../shared/telemetry/turn-record.ts';
import type { PolicyHolder } from '../shared/policy/active-policy.ts';
import type { KeyStore, VirtualKey } from './state/key-store.ts';
import type { Tracing } from './telemetry/tracing.ts';
import type { GatewayMetrics } from './telemetry/metrics.ts';
import type { RequireRole } from './plugins/admin-auth.ts';
import type { Forwarder, InboundProtocol } from './forward/forward-types.ts';
import type { BudgetStage, ExplorationPlan } from './policy/evaluate-policy.ts';
import type { CostCenter } from '../shared/policy/policy-schema.ts';
import type { RateLimiter } from './state/rate-limiter.ts';

/** Budget admission of one request, from the budget gate. */
export interface BudgetAdmission {
  stage: BudgetStage;
  resetsAt?: Date | undefined;
  /** The structured 429 for a paused budget, naming the budget, the spend and the reset time. */
  pauseError?: GatewayError | undefined;
  /** The model a sticky session was moved to, read in the same step as the reservation. */
  affinity?: string | undefined;
  /** Settles the reservation with the real cost (0 when the request was not served). */
  settle(actualUsd: number): void;
}

export interface BudgetAdmitInput {
  requestId: string;
  key: VirtualKey;
  costCenterName: string;
  costCenter: CostCenter;
  estimateUsd: number;
  /** Worst case at the model served past the downgrade line (ReserveRequest.downgradeEstimateUsd). */
  downgradeEstimateUsd?: number | undefined;
  now: Date;
  sessionId: string;
  requestedModel: string;
  policyVersion: number;
}

export interface BudgetGate {
  admit(input: BudgetAdmitInput): Promise<BudgetAdmission> | BudgetAdmission;
}

/** Records `request.denied` once per (session, turn, code), not once per client retry. */
export interface DenialRecorder {
  recordDenied(sink: AuditSink, event: AuditEvent, key: { sessionId: string; turnId: string; code: string }): void;
}

export interface AffinityGate {
  get(sessionId: string, requestedModel: string): string | undefined | Promise<string | undefined>;
  set(sessionId: string, requestedModel: string, servedModel: string, ttlSeconds: number): void;
}

/** Circuit breaker and per-target concurrency limit (gateway/transport/circuit-breaker.ts). */
export interface UpstreamGuard {
  /** undefined = go ahead (and `release` afterwards); otherwise why not. */
  /** `panic`: every target the request could use is open; go ahead despite an open circuit. */
  acquire(targetId: string, options?: { panic?: boolean }): 'circuit_open' | 'concurrency_limit' | undefined;
  release(targetId: string): void;
  onSuccess(targetId: string): void;
  /** `description`: what failed (code and low-level cause), kept for the breaker's transition log. */
  onFailure(targetId: string, description?: string): void;
}

/** Everything the gateway's routes use; built once at start-up by the composer (cli/start/gateway-context.ts, or tests). */
export interface GatewayContext {
  config: DeploymentConfig;
  logger: Logger;
  policy: PolicyHolder;
  keys: KeyStore;
  tracing: Tracing;
  metrics: GatewayMetrics;
  audit: AuditSink;
  denials: DenialRecorder;
  clickhouse: ClickHouseClient;
  /** Analyst SQL (`/admin/sql`, `/clickhouse` for analysts): gated, limited, on connections of its own. */
  analystSql: AnalystSql;
  database: string;
  writer: BatchWriter;
  requireRole: RequireRole;
  budgets?: BudgetGate | undefined;
  affinity?: AffinityGate | undefined;
  upstreamGuard?: UpstreamGuard | undefined;
  /** Requests/tokens per minute per key and cost center (policy and key `limits`). */
  rateLimiter?: RateLimiter | undefined;
  /** Consecutive failed tool results at the end of the resent history (retry cap). */
  countTrailingToolFailures?: ((body: Record<string, unknown>, inbound: InboundProtocol) => number) | undefined;
  /** Cross-protocol forwarding (translation). Same-protocol pairs use the pass-through. */
  forwardTranslated?: Forwarder | undefined;
  /** The optimizer's current exploration plan for a cost center (a synchronous in-memory read: this runs per request). */
  explorationPlan?: ((costCenter: string) => ExplorationPlan | undefined) | undefined;
  /** Handed every finished turn, off the request path (evaluator signals). */
  onTurnComplete?: ((record: TurnRecord) => void) | undefined;
  /** Sends an alert webhook (budget stages, hops, rollbacks); never throws. */
  alert?: ((event: Record<string, unknown>) => void) | undefined;
  /** Extra readiness checks (storage reachable…). */
  readinessChecks: (() => Promise<{ name: string; ok: boolean; detail?: string }>)[];
  /** Extra Prometheus text appended to /metrics (circuit breakers…). */
  extraMetrics?: (() => string) | undefined;
  /** Set while draining: new requests get 503. */
  draining: boolean;
}
