import type { AuditSink } from '../../shared/audit/audit-event.ts';
import type { BudgetAdmission, BudgetAdmitInput, BudgetGate } from '../context.ts';
import { budgetAlertEvent } from '../alerts/budget-alert-event.ts';
import type { AlertEvent } from '../alerts/webhook-alerter.ts';
import type { BudgetCrossing, BudgetLedger, ReserveResult, SettleRequest } from './budget-ledger.ts';
import { budgetScopesFor, type BudgetScope } from './budget-periods.ts';
import { budgetExhaustedError } from './budget-errors.ts';
import { affinityKeyFor } from './affinity-store.ts';

export interface BudgetGateOptions {
  ledger: BudgetLedger;
  audit: AuditSink;
  alert: (event: AlertEvent) => void;
  onError?: (error: unknown) => void;
  /** Each stage crossing, once per scope and period (metrics). */
  onCrossing?: (crossing: BudgetCrossing, costCenter: string) => void;
}

const NO_SETTLE = () => {};

/**
 * Budgets on the hot path: the scopes that apply (developer, cost center, key × day, month), one
 * atomic reserve (which also reads the session's affinity: one Redis round trip in distributed
 * mode), stage crossings turned into audit events and webhooks once per period, and a settle hook.
 */
export function createBudgetGate(options: BudgetGateOptions): BudgetGate {
  const settleSafely: SettleSafely = (request) => {
    try {
      const settled = options.ledger.settle(request);
      if (settled instanceof Promise) settled.catch((error: unknown) => options.onError?.(error));
    } catch (error) {
      options.onError?.(error);
    }
  };
  return {
    admit(input) {
      const scopes = budgetScopesFor({
        developer: input.key.developer,
        costCenter: input.costCenterName,
        keyId: input.key.id,
        keyBudgets: input.key.budgets,
        policyCostCenter: input.costCenter,
        now: input.now,
      });
      const affinityKey = input.sessionId ? affinityKeyFor(input.sessionId, input.requestedModel) : undefined;
      const finish = (result: ReserveResult): BudgetAdmission => {
        reportCrossings(options, input, result.crossed);
        return admissionOf(result, input, scopes, settleSafely);
      };
      const reserved = options.ledger.reserve({ requestId: input.requestId, scopes, estimateUsd: input.estimateUsd, downgradeEstimateUsd: input.downgradeEstimateUsd, stages: input.costCenter.stages, affinityKey });
      return reserved instanceof Promise ? reserved.then(finish) : finish(reserved);
    },
  };
}

type SettleSafely = (request: SettleRequest) => void;

/** Each stage crossing becomes an audit event, a webhook alert and a metric, once per scope and period. */
function reportCrossings(options: BudgetGateOptions, input: BudgetAdmitInput, crossed: readonly BudgetCrossing[]): void {
  for (const crossing of crossed) {
    const event = budgetAlertEvent(crossing, {
      costCenter: input.costCenterName,
      developer: input.key.developer,
      keyId: input.key.id,
      requestedModel: input.requestedModel,
      thresholds: input.costCenter.stages,
      policyVersion: input.policyVersion,
      now: input.now,
    });
    options.audit.record({
      actor: 'gateway',
      action: event.event,
      subject: crossing.scope.id,
      cost_center: input.costCenterName,
      policy_version: input.policyVersion,
      details: event,
    });
    options.alert(event);
    options.onCrossing?.(crossing, input.costCenterName);
  }
}

/** The ledger's answer as the pipeline sees it: the stage, the pause error if refused, and how to settle. */
function admissionOf(result: ReserveResult, input: BudgetAdmitInput, scopes: BudgetScope[], settleSafely: SettleSafely): BudgetAdmission {
  if (!result.admitted) {
    return {
      stage: 'pause',
      affinity: result.affinity,
      resetsAt: result.resetsAt,
      pauseError: budgetExhaustedError(result, { costCenter: input.costCenterName, model: input.requestedModel, pause: input.costCenter.stages.pause }),
      // Nothing was reserved; a dry-run cost center is still served, and its spend must count.
      settle(actualUsd) {
        if (actualUsd > 0) settleSafely({ requestId: input.requestId, scopes, estimateUsd: 0, actualUsd });
      },
    };
  }
  if (scopes.length === 0) return { stage: result.stage, affinity: result.affinity, settle: NO_SETTLE };
  return {
    stage: result.stage,
    affinity: result.affinity,
    settle(actualUsd) {
      settleSafely({ requestId: input.requestId, scopes, estimateUsd: input.estimateUsd, actualUsd });
    },
  };
}
