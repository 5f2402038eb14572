import type { BudgetScope } from './budget-periods.ts';

/** Stage thresholds as ratios of a budget's limit (policy `stages`). */
export interface BudgetStages {
  /** @defaultValue 0.8 */
  alert: number;
  /** @defaultValue 0.95 */
  downgrade: number;
  /** @defaultValue 1.1 */
  pause: number;
}

export type BudgetStage = 'ok' | 'alert' | 'downgrade' | 'pause';

/** A threshold a scope crossed for the first time in its period (reported once, across replicas). */
export interface BudgetCrossing {
  scopeId: string;
  stage: 'alert' | 'downgrade' | 'pause';
  scope: BudgetScope;
  /** Settled spend + outstanding reservations when the crossing was seen. */
  spendUsd: number;
  limitUsd: number;
  ratio: number;
}

export interface ReserveRequest {
  /** Unique per client request; `settle` releases the reservation made under it. */
  requestId: string;
  scopes: readonly BudgetScope[];
  /** Worst-case cost of the request (input × price + max output × price) at the model served below the downgrade line. */
  estimateUsd: number;
  /**
   * Worst-case cost at the model the policy serves once a scope is past its downgrade line (the
   * cheaper target). The ledger picks it in the same atomic step that reads the stage, so a
   * developer between the downgrade and pause lines is priced, admitted and served at the cheaper
   * model instead of being paused early by the expensive model's worst case. Absent: `estimateUsd`.
   */
  downgradeEstimateUsd?: number | undefined;
  stages: BudgetStages;
  /**
   * Session affinity key (`affinityKeyFor(sessionId, requestedModel)`): its value is read in the
   * same atomic step (the same Redis round trip) and returned as `affinity`.
   */
  affinityKey?: string | undefined;
}

interface ReserveResultBase {
  /** Thresholds crossed for the first time in their period by this call. */
  crossed: BudgetCrossing[];
  /** (spend + reserved) / limit of the tightest scope, before this request's estimate. */
  ratio: number;
  /** Served model stored for `affinityKey`, if one was asked for and is set. */
  affinity?: string | undefined;
  /** True when Redis was unreachable and local counters decided (`on_unavailable: open`). */
  degraded?: boolean | undefined;
}

export interface ReserveAdmitted extends ReserveResultBase {
  admitted: true;
  stage: 'ok' | 'alert' | 'downgrade';
  /** The tightest scope; undefined when no budget applies. */
  scope: BudgetScope | undefined;
}

export interface ReserveDenied extends ReserveResultBase {
  admitted: false;
  stage: 'pause';
  /** The scope that denied (the one whose pause line this request would cross). */
  scope: BudgetScope;
  /** Settled spend of that scope. */
  spendUsd: number;
  /** Outstanding reservations of that scope (requests in flight). */
  reservedUsd: number;
  limitUsd: number;
  resetsAt: Date;
}

export type ReserveResult = ReserveAdmitted | ReserveDenied;

export interface SettleRequest {
  requestId: string;
  scopes: readonly BudgetScope[];
  /** The estimate passed to `reserve` (informational; the ledger remembers what it reserved). */
  estimateUsd: number;
  /** What the request really cost (0 when it failed before usage). */
  actualUsd: number;
}

/** Spend of one scope at a point in time. */
export interface BudgetScopeSnapshot {
  scopeId: string;
  spendUsd: number;
  reservedUsd: number;
  limitUsd: number;
  ratio: number;
}

/**
 * Spend counters for every budget, with reservations so that concurrent requests cannot jointly
 * pass a budget's pause line.
 *
 * Admission rule, per scope (atomic over all scopes of the request):
 *   deny when spend + reserved ≥ pause × limit, or spend + reserved + estimate > pause × limit;
 *   otherwise add the estimate to every scope's reserved amount.
 * `settle` releases the reservation and adds the actual cost. Amounts are kept in integer
 * micro-USD so that add/release pairs cancel exactly.
 */
export interface BudgetLedger {
  reserve(request: ReserveRequest): Promise<ReserveResult> | ReserveResult;
  settle(request: SettleRequest): Promise<void> | void;
  snapshot(scopes: readonly BudgetScope[]): Promise<BudgetScopeSnapshot[]> | BudgetScopeSnapshot[];
  close?(): Promise<void>;
}

/** Bit flags of the thresholds already reported in a scope's period. */
export const FLAG_ALERT = 1;
export const FLAG_DOWNGRADE = 2;
export const FLAG_PAUSE = 4;

export const MICROS_PER_USD = 1_000_000;

/** USD → integer micro-USD, rounded up (reservations must never under-count). */
export function usdToMicrosCeil(usd: number): number {
  if (!(usd > 0)) return 0;
  return Math.ceil(usd * MICROS_PER_USD - 1e-6);
}

/** USD → integer micro-USD, rounded to nearest. */
export function usdToMicros(usd: number): number {
  if (!(usd > 0)) return 0;
  return Math.round(usd * MICROS_PER_USD);
}

/** The integer thresholds (micro-USD) of one scope. */
export interface ScopeThresholds {
  limit: number;
  alertAt: number;
  downgradeAt: number;
  pauseAt: number;
}

export function thresholdsFor(limitUsd: number, stages: BudgetStages): ScopeThresholds {
  const limit = usdToMicros(limitUsd);
  return {
    limit,
    alertAt: Math.round(stages.alert * limit),
    downgradeAt: Math.round(stages.downgrade * limit),
    pauseAt: Math.round(stages.pause * limit),
  };
}

/** Stage of a ratio (pause is only ever reported on a denial). */
export function stageOfRatio(ratio: number, stages: BudgetStages): 'ok' | 'alert' | 'downgrade' {
  if (ratio >= stages.downgrade) return 'downgrade';
  if (ratio >= stages.alert) return 'alert';
  return 'ok';
}

/** The answer when no budget applies (a fresh object: callers may annotate it). */
export function admittedNoBudget(affinity?: string | undefined): ReserveAdmitted {
  return { admitted: true, stage: 'ok', ratio: 0, scope: undefined, crossed: [], affinity };
}
