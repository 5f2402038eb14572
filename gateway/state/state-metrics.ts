import type { RedisBudgetLedgerStats } from './redis-budget-ledger.ts';
import type { WebhookAlerterStats } from '../alerts/webhook-alerter.ts';

/** Prometheus metric names of the hot-state modules. */
export const BUDGET_DEGRADED_METRIC = 'gatehouse_budget_ledger_degraded';
export const BUDGET_DEGRADED_RESERVES_METRIC = 'gatehouse_budget_degraded_reserves_total';
export const BUDGET_PENDING_SCOPES_METRIC = 'gatehouse_budget_pending_scopes';
export const BUDGET_RESTORES_METRIC = 'gatehouse_budget_redis_restores_total';
export const ALERTS_DELIVERED_METRIC = 'gatehouse_alerts_delivered_total';
export const ALERTS_FAILED_METRIC = 'gatehouse_alerts_failed_total';
export const ALERTS_DROPPED_METRIC = 'gatehouse_alerts_dropped_total';
export const ALERTS_QUEUED_METRIC = 'gatehouse_alerts_queued';

function metric(name: string, type: 'gauge' | 'counter', help: string, value: number): string {
  return `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name} ${value}\n`;
}

/** Prometheus text for the Redis budget ledger (distributed mode) and the alert webhook; append to /metrics. */
export function renderStateMetrics(sources: { ledger?: RedisBudgetLedgerStats | undefined; alerts?: WebhookAlerterStats | undefined }): string {
  let text = '';
  const ledger = sources.ledger;
  if (ledger !== undefined) {
    text += metric(BUDGET_DEGRADED_METRIC, 'gauge', '1 while budgets are decided from local counters because Redis is unreachable.', ledger.degraded ? 1 : 0);
    text += metric(BUDGET_DEGRADED_RESERVES_METRIC, 'counter', 'Budget reserves decided locally (on_unavailable: open) or refused (closed).', ledger.degradedReserves);
    text += metric(BUDGET_PENDING_SCOPES_METRIC, 'gauge', 'Budgets with spend waiting to be written to Redis.', ledger.pendingScopes + ledger.pendingReleases);
    text += metric(BUDGET_RESTORES_METRIC, 'counter', 'Times Redis had lost its data and last-known spend was restored.', ledger.restores);
  }
  const alerts = sources.alerts;
  if (alerts !== undefined) {
    text += metric(ALERTS_DELIVERED_METRIC, 'counter', 'Alert webhooks delivered.', alerts.delivered);
    text += metric(ALERTS_FAILED_METRIC, 'counter', 'Alert webhooks given up after all retries.', alerts.failed);
    text += metric(ALERTS_DROPPED_METRIC, 'counter', 'Alerts dropped because the queue was full.', alerts.dropped);
    text += metric(ALERTS_QUEUED_METRIC, 'gauge', 'Alerts waiting or being retried.', alerts.queued + alerts.inFlight);
  }
  return text;
}
