import type { BudgetScope } from './budget-periods.ts';
import {
  admittedNoBudget,
  FLAG_ALERT,
  FLAG_DOWNGRADE,
  FLAG_PAUSE,
  MICROS_PER_USD,
  thresholdsFor,
  usdToMicros,
  usdToMicrosCeil,
  type BudgetCrossing,
  type BudgetLedger,
  type BudgetScopeSnapshot,
  type ReserveRequest,
  type ReserveResult,
  type SettleRequest,
} from './budget-ledger.ts';
import type { ClickHouseClient } from '@clickhouse/client';
import type { MemoryAffinityStore } from './memory-affinity-store.ts';
import { rebuildLedgerFromClickHouse, type RebuildOptions, type RebuildSummary } from './rebuild-budget-ledger.ts';

interface ScopeState {
  /** Settled spend, micro-USD. */
  spend: number;
  /** Outstanding reservations, micro-USD. */
  reserved: number;
  flags: number;
  /** When the entry may be forgotten (period end + grace). */
  expiresAt: number;
}

interface Reservation {
  states: ScopeState[];
  amount: number;
  expiresAt: number;
}

export interface MemoryBudgetLedgerOptions {
  /** Read inside `reserve` when a request carries `affinityKey`. */
  affinity?: MemoryAffinityStore | undefined;
  /**
   * A reservation never settled (a bug or a lost request) is released after this long.
   * Keep it above the longest request (`timeouts.total_ms`). @defaultValue 1200000 (20 min)
   */
  reservationTtlMillis?: number;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

const PERIOD_GRACE_MILLIS = 86_400_000;
const PRUNE_INTERVAL_MILLIS = 60_000;

/**
 * Embedded-mode ledger: plain Maps, synchronous, so `reserve` is atomic by construction (no
 * await between the check and the update). Spend survives a restart through
 * {@link rebuildFromClickHouse} (see ./rebuild-budget-ledger.ts), which sums `spans.cost_usd`.
 */
export class MemoryBudgetLedger implements BudgetLedger {
  private readonly scopes = new Map<string, ScopeState>();
  private readonly reservations = new Map<string, Reservation>();
  private readonly affinity: MemoryAffinityStore | undefined;
  private readonly reservationTtlMillis: number;
  private readonly now: () => number;
  private nextPruneAt = 0;

  constructor(options: MemoryBudgetLedgerOptions = {}) {
    this.affinity = options.affinity;
    this.reservationTtlMillis = options.reservationTtlMillis ?? 1_200_000;
    this.now = options.now ?? Date.now;
  }

  reserve(request: ReserveRequest): ReserveResult {
    const affinity = request.affinityKey !== undefined ? this.affinity?.getByKey(request.affinityKey) : undefined;
    const scopes = request.scopes;
    if (scopes.length === 0) return admittedNoBudget(affinity);
    const now = this.now();
    this.housekeeping(now);
    // A second reserve under the same request id replaces the first (never counts it twice).
    this.release(request.requestId);
    const states: ScopeState[] = new Array(scopes.length);
    const pauseAts: number[] = new Array(scopes.length);
    let tightest = 0;
    let tightestRatio = -1;
    let stageRank = 0;
    let crossed: BudgetCrossing[] | undefined;
    for (let index = 0; index < scopes.length; index++) {
      const scope = scopes[index]!;
      const state = this.stateFor(scope);
      states[index] = state;
      const thresholds = thresholdsFor(scope.limitUsd, request.stages);
      const used = state.spend + state.reserved;
      const ratio = thresholds.limit > 0 ? used / thresholds.limit : Infinity;
      if (ratio > tightestRatio) {
        tightestRatio = ratio;
        tightest = index;
      }
      pauseAts[index] = thresholds.pauseAt;
      if (used >= thresholds.downgradeAt) stageRank = 2;
      else if (used >= thresholds.alertAt && stageRank === 0) stageRank = 1;
      crossed = flagCrossings(state, scope, used, ratio, thresholds, crossed);
    }
    // The stage decides the price: past the downgrade line the policy serves the cheaper model.
    const estimate = usdToMicrosCeil(stageRank === 2 && request.downgradeEstimateUsd !== undefined ? request.downgradeEstimateUsd : request.estimateUsd);
    const denyIndex = mostOverPause(states, pauseAts, estimate);
    if (denyIndex >= 0) return pauseDenial(scopes[denyIndex]!, states[denyIndex]!, tightestRatio, crossed, affinity);
    for (const state of states) state.reserved += estimate;
    if (estimate > 0) {
      this.reservations.set(request.requestId, { states, amount: estimate, expiresAt: now + this.reservationTtlMillis });
    }
    return {
      admitted: true,
      stage: stageRank === 2 ? 'downgrade' : stageRank === 1 ? 'alert' : 'ok',
      ratio: tightestRatio,
      scope: scopes[tightest],
      crossed: crossed ?? [],
      affinity,
    };
  }

  /** Gives back what request `requestId` holds reserved, if anything. */
  private release(requestId: string): void {
    const prior = this.reservations.get(requestId);
    if (prior === undefined) return;
    this.reservations.delete(requestId);
    for (const state of prior.states) state.reserved -= prior.amount;
  }

  settle(request: SettleRequest): void {
    const reservation = this.reservations.get(request.requestId);
    if (reservation !== undefined) {
      this.reservations.delete(request.requestId);
      for (const state of reservation.states) state.reserved -= reservation.amount;
    }
    const actual = usdToMicros(request.actualUsd);
    if (actual === 0) return;
    for (const scope of request.scopes) this.stateFor(scope).spend += actual;
  }

  snapshot(scopes: readonly BudgetScope[]): BudgetScopeSnapshot[] {
    return scopes.map((scope) => {
      const state = this.scopes.get(scope.id);
      const spend = state?.spend ?? 0;
      const reserved = state?.reserved ?? 0;
      const limit = usdToMicros(scope.limitUsd);
      return {
        scopeId: scope.id,
        spendUsd: spend / MICROS_PER_USD,
        reservedUsd: reserved / MICROS_PER_USD,
        limitUsd: scope.limitUsd,
        ratio: limit > 0 ? (spend + reserved) / limit : 0,
      };
    });
  }

  /** Settled spend (micro-USD) and flags of a scope id, for tests, rebuilds and reconciliation. */
  peek(scopeId: string): { spendMicros: number; reservedMicros: number; flags: number } | undefined {
    const state = this.scopes.get(scopeId);
    return state === undefined ? undefined : { spendMicros: state.spend, reservedMicros: state.reserved, flags: state.flags };
  }

  /**
   * Adds spend (micro-USD) and sets flags for a scope id without a reservation: used by the
   * ClickHouse rebuild and to seed the Redis ledger's local fallback from last-known values.
   */
  seed(scopeId: string, spendMicros: number, flags: number, expiresAt: number): void {
    let state = this.scopes.get(scopeId);
    if (state === undefined) {
      state = { spend: 0, reserved: 0, flags: 0, expiresAt };
      this.scopes.set(scopeId, state);
    }
    state.spend += spendMicros;
    state.flags |= flags;
    if (expiresAt > state.expiresAt) state.expiresAt = expiresAt;
  }

  /**
   * Restores spend after a restart: sums `spans.cost_usd` of the current periods per developer,
   * cost center and key, and the stage flags from this period's `budget.*` audit events.
   * Call it before serving (and after the span spool has been replayed).
   */
  async rebuildFromClickHouse(
    client: ClickHouseClient,
    database: string,
    now: number | Date,
    options: RebuildOptions = {},
  ): Promise<RebuildSummary> {
    return rebuildLedgerFromClickHouse(this, client, database, typeof now === 'number' ? now : now.getTime(), options);
  }

  /** True when the ledger holds state for `scopeId`. */
  has(scopeId: string): boolean {
    return this.scopes.has(scopeId);
  }

  /** Forgets everything (the Redis ledger resets its fallback after reconciling). */
  clear(): void {
    this.scopes.clear();
    this.reservations.clear();
  }

  /** Number of outstanding reservations. */
  get outstanding(): number {
    return this.reservations.size;
  }

  private stateFor(scope: BudgetScope): ScopeState {
    let state = this.scopes.get(scope.id);
    if (state === undefined) {
      state = { spend: 0, reserved: 0, flags: 0, expiresAt: scope.resetsAt.getTime() + PERIOD_GRACE_MILLIS };
      this.scopes.set(scope.id, state);
    }
    return state;
  }

  /** Releases reservations that outlived their TTL (oldest first) and drops ended periods. */
  private housekeeping(now: number): void {
    for (const [requestId, reservation] of this.reservations) {
      if (reservation.expiresAt > now) break;
      this.reservations.delete(requestId);
      for (const state of reservation.states) state.reserved -= reservation.amount;
    }
    if (now < this.nextPruneAt) return;
    this.nextPruneAt = now + PRUNE_INTERVAL_MILLIS;
    for (const [scopeId, state] of this.scopes) if (state.expiresAt < now && state.reserved <= 0) this.scopes.delete(scopeId);
  }
}

/**
 * Sets the alert and downgrade flags a scope's spend has just reached; returns the crossings list
 * (created only when there is a first crossing, so an ordinary reserve allocates none).
 */
function flagCrossings(state: ScopeState, scope: BudgetScope, used: number, ratio: number, thresholds: ReturnType<typeof thresholdsFor>, crossed: BudgetCrossing[] | undefined): BudgetCrossing[] | undefined {
  let newFlags = 0;
  if (used >= thresholds.alertAt && (state.flags & FLAG_ALERT) === 0) newFlags |= FLAG_ALERT;
  if (used >= thresholds.downgradeAt && (state.flags & FLAG_DOWNGRADE) === 0) newFlags |= FLAG_DOWNGRADE;
  if (newFlags === 0) return crossed;
  state.flags |= newFlags;
  crossed ??= [];
  pushCrossings(crossed, newFlags, scope, used, ratio);
  return crossed;
}

/** The scope this estimate would push furthest past its pause line (already past counts as furthest), or -1. */
function mostOverPause(states: ScopeState[], pauseAts: number[], estimate: number): number {
  let denyIndex = -1;
  let denyOver = -Infinity;
  for (let index = 0; index < states.length; index++) {
    const used = states[index]!.spend + states[index]!.reserved;
    const over = used >= pauseAts[index]! ? Infinity : used + estimate - pauseAts[index]!;
    if (over > 0 && over > denyOver) {
      denyOver = over;
      denyIndex = index;
    }
  }
  return denyIndex;
}

/** The refusal at the pause stage; the first one of a period also raises the pause flag and its crossing. */
function pauseDenial(scope: BudgetScope, state: ScopeState, tightestRatio: number, crossed: BudgetCrossing[] | undefined, affinity: ReserveResult['affinity']): ReserveResult {
  if ((state.flags & FLAG_PAUSE) === 0) {
    state.flags |= FLAG_PAUSE;
    crossed ??= [];
    const used = state.spend + state.reserved;
    pushCrossings(crossed, FLAG_PAUSE, scope, used, used / Math.max(1, usdToMicros(scope.limitUsd)));
  }
  return {
    admitted: false,
    stage: 'pause',
    scope,
    spendUsd: state.spend / MICROS_PER_USD,
    reservedUsd: state.reserved / MICROS_PER_USD,
    limitUsd: scope.limitUsd,
    resetsAt: scope.resetsAt,
    ratio: tightestRatio,
    crossed: crossed ?? [],
    affinity,
  };
}

function pushCrossings(crossed: BudgetCrossing[], flags: number, scope: BudgetScope, usedMicros: number, ratio: number): void {
  const spendUsd = usedMicros / MICROS_PER_USD;
  if (flags & FLAG_ALERT) crossed.push({ scopeId: scope.id, stage: 'alert', scope, spendUsd, limitUsd: scope.limitUsd, ratio });
  if (flags & FLAG_DOWNGRADE) crossed.push({ scopeId: scope.id, stage: 'downgrade', scope, spendUsd, limitUsd: scope.limitUsd, ratio });
  if (flags & FLAG_PAUSE) crossed.push({ scopeId: scope.id, stage: 'pause', scope, spendUsd, limitUsd: scope.limitUsd, ratio });
}
