import type { BudgetScope } from './budget-periods.ts';
import {
  FLAG_ALERT,
  FLAG_DOWNGRADE,
  FLAG_PAUSE,
  MICROS_PER_USD,
  thresholdsFor,
  usdToMicrosCeil,
  type BudgetCrossing,
  type ReserveRequest,
  type ReserveResult,
  type ScopeThresholds,
} from './budget-ledger.ts';
import { scopeExpiresAt } from './known-budget-scopes.ts';

/** KEYS and ARGV of one RESERVE_LUA call, and what reading its reply needs. */
export interface ReserveScriptCall {
  keys: string[];
  args: (string | number)[];
  limits: ScopeThresholds[];
  /** Worst case at the normal model, micro-USD. */
  estimate: number;
  /** Worst case at the downgrade model, micro-USD. */
  downgradeEstimate: number;
}

/** Key names of the ledger in Redis (one prefix per deployment). */
export interface BudgetKeys {
  expiryKey: string;
  reservationKey(requestId: string): string;
  affinityKey(affinityKey: string): string;
  scopeKey(scopeId: string): string;
}

/** The arguments RESERVE_LUA expects (see budget-lua.ts for their order). */
export function reserveScriptCall(request: ReserveRequest, keyNames: BudgetKeys, now: number, reservationTtlMillis: number): ReserveScriptCall {
  const estimate = usdToMicrosCeil(request.estimateUsd);
  const downgradeEstimate = request.downgradeEstimateUsd === undefined ? estimate : usdToMicrosCeil(request.downgradeEstimateUsd);
  const keys: string[] = [keyNames.expiryKey, keyNames.reservationKey(request.requestId), keyNames.affinityKey(request.affinityKey ?? '')];
  const args: (string | number)[] = [now, estimate, now + reservationTtlMillis, request.affinityKey === undefined ? '0' : '1', downgradeEstimate];
  const limits: ScopeThresholds[] = new Array(request.scopes.length);
  for (let index = 0; index < request.scopes.length; index++) {
    const scope = request.scopes[index]!;
    const thresholds = thresholdsFor(scope.limitUsd, request.stages);
    limits[index] = thresholds;
    keys.push(keyNames.scopeKey(scope.id));
    args.push(thresholds.alertAt, thresholds.downgradeAt, thresholds.pauseAt, scopeExpiresAt(scope));
  }
  return { keys, args, limits, estimate, downgradeEstimate };
}

/** One scope as the script left it: what the ledger remembers of Redis. */
export interface ObservedScope {
  scope: BudgetScope;
  spend: number;
  /** Reservations including this request's, when it was admitted. */
  reserved: number;
  newFlags: number;
}

/** The ledger's answer, and what the reply said about each scope. */
export interface ReadReserveReply {
  result: ReserveResult;
  observed: ObservedScope[];
}

const STAGE_BITS: readonly (readonly [number, 'alert' | 'downgrade' | 'pause'])[] = [
  [FLAG_ALERT, 'alert'],
  [FLAG_DOWNGRADE, 'downgrade'],
  [FLAG_PAUSE, 'pause'],
];

interface ScopeTally {
  crossed: BudgetCrossing[] | undefined;
  tightest: number;
  tightestRatio: number;
  stageRank: number;
}

/**
 * Reads RESERVE_LUA's reply: `[_, denyIndex + 1, affinity, (newFlags, spend, reserved) per scope]`.
 * The stage is the worst over the scopes; the reported ratio is the tightest scope's.
 */
export function readReserveReply(request: ReserveRequest, reply: unknown[], call: ReserveScriptCall): ReadReserveReply {
  const scopes = request.scopes;
  const denyIndex = Number(reply[1]) - 1;
  const affinity = typeof reply[2] === 'string' ? reply[2] : undefined;
  const spendAt = (index: number): number => Number(reply[4 + index * 3]);
  const reservedAt = (index: number): number => Number(reply[5 + index * 3]);
  // The script's rule: any scope past its downgrade line prices the request at the cheaper model.
  const downgraded = scopes.some((_scope, index) => spendAt(index) + reservedAt(index) >= call.limits[index]!.downgradeAt);
  const estimate = downgraded ? call.downgradeEstimate : call.estimate;
  const tally: ScopeTally = { crossed: undefined, tightest: 0, tightestRatio: scopes.length === 0 ? 0 : -1, stageRank: 0 };
  const observed: ObservedScope[] = [];
  for (let index = 0; index < scopes.length; index++) {
    const scope = scopes[index]!;
    const newFlags = Number(reply[3 + index * 3]);
    const spend = spendAt(index);
    const reserved = reservedAt(index);
    tallyScope(tally, scope, index, spend + reserved, newFlags, call.limits[index]!);
    observed.push({ scope, spend, reserved: reserved + (denyIndex < 0 ? estimate : 0), newFlags });
  }
  const crossed = tally.crossed ?? [];
  if (denyIndex >= 0) {
    const scope = scopes[denyIndex]!;
    const result: ReserveResult = {
      admitted: false,
      stage: 'pause',
      scope,
      spendUsd: spendAt(denyIndex) / MICROS_PER_USD,
      reservedUsd: reservedAt(denyIndex) / MICROS_PER_USD,
      limitUsd: scope.limitUsd,
      resetsAt: scope.resetsAt,
      ratio: tally.tightestRatio,
      crossed,
      affinity,
    };
    return { result, observed };
  }
  const stage = tally.stageRank === 2 ? 'downgrade' : tally.stageRank === 1 ? 'alert' : 'ok';
  return { result: { admitted: true, stage, ratio: tally.tightestRatio, scope: scopes[tally.tightest], crossed, affinity }, observed };
}

function tallyScope(tally: ScopeTally, scope: BudgetScope, index: number, used: number, newFlags: number, thresholds: ScopeThresholds): void {
  const ratio = thresholds.limit > 0 ? used / thresholds.limit : Infinity;
  if (used >= thresholds.downgradeAt) tally.stageRank = 2;
  else if (used >= thresholds.alertAt && tally.stageRank === 0) tally.stageRank = 1;
  if (ratio > tally.tightestRatio) {
    tally.tightestRatio = ratio;
    tally.tightest = index;
  }
  if (newFlags === 0) return;
  tally.crossed ??= [];
  const spendUsd = used / MICROS_PER_USD;
  for (const [bit, stage] of STAGE_BITS) {
    if (newFlags & bit) tally.crossed.push({ scopeId: scope.id, stage, scope, spendUsd, limitUsd: scope.limitUsd, ratio });
  }
}
