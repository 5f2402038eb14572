import type { BudgetCrossing } from '../state/budget-ledger.ts';
import type { AlertEvent } from './webhook-alerter.ts';

export interface BudgetAlertContext {
  costCenter: string;
  developer: string;
  keyId?: string | undefined;
  /** Model the request asked for, and the one it was sent to (after a downgrade). */
  requestedModel?: string | undefined;
  servedModel?: string | undefined;
  /** The stage ratios in force (policy `stages`). */
  thresholds: { alert: number; downgrade: number; pause: number };
  policyVersion?: number | undefined;
  now?: Date | undefined;
}

/**
 * The webhook body (and audit `details`) for a budget stage crossed for the first time in its
 * period. `scope` is the budget's id, which is also the audit event's `subject`: the embedded
 * ledger's rebuild reads it back so an alert is not sent twice after a restart.
 */
export function budgetAlertEvent(crossing: BudgetCrossing, context: BudgetAlertContext): AlertEvent {
  const scope = crossing.scope;
  return {
    event: `budget.${crossing.stage}`,
    cost_center: context.costCenter,
    developer: scope.kind === 'cost_center' ? undefined : context.developer,
    ts: (context.now ?? new Date()).toISOString(),
    scope: scope.id,
    budget: scope.kind,
    subject: scope.subject,
    period: scope.period,
    spend_usd: round(crossing.spendUsd),
    limit_usd: scope.limitUsd,
    ratio: round(crossing.ratio),
    threshold: context.thresholds[crossing.stage],
    resets_at: scope.resetsAt.toISOString(),
    time_zone: scope.timeZone,
    key_id: context.keyId,
    requested_model: context.requestedModel,
    served_model: context.servedModel,
    policy_version: context.policyVersion,
  };
}

function round(value: number): number {
  return Math.round(value * 1e6) / 1e6;
}
