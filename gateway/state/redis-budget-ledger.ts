import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { GatewayError } from '../errors/gateway-error.ts';
import type { BudgetScope } from './budget-periods.ts';
import {
  admittedNoBudget,
  FLAG_ALERT,
  FLAG_DOWNGRADE,
  FLAG_PAUSE,
  MICROS_PER_USD,
  usdToMicros,
  usdToMicrosCeil,
  type BudgetLedger,
  type BudgetScopeSnapshot,
  type ReserveRequest,
  type ReserveResult,
  type SettleRequest,
} from './budget-ledger.ts';
import { EPOCH_LUA, LuaScript, RESERVE_LUA } from './budget-lua.ts';
import { MemoryBudgetLedger } from './memory-budget-ledger.ts';
import type { RedisAffinityStore } from './redis-affinity-store.ts';
import { KnownBudgetScopes, scopeExpiresAt } from './known-budget-scopes.ts';
import { PendingBudgetWrites } from './pending-budget-writes.ts';
import { readReserveReply, reserveScriptCall, type BudgetKeys } from './reserve-script-call.ts';
import { replayPendingWrites, restoreKnownSpend, settleScript } from './replay-budget-writes.ts';

export interface RedisBudgetLedgerOptions {
  /** A client made with {@link createStateRedis} (no offline queue, short command timeout). */
  redis: Redis;
  /** Deployment `redis.key_prefix`. @defaultValue "gatehouse:" */
  keyPrefix?: string;
  /** Deployment `redis.on_unavailable`. @defaultValue open */
  onUnavailable?: 'open' | 'closed';
  /** Local mirror used for `affinity` while Redis is unreachable. */
  affinity?: RedisAffinityStore | undefined;
  /** Unsettled reservations are released after this long. @defaultValue 1200000 (20 min) */
  reservationTtlMillis?: number;
  /** After a failed Redis call, go straight to the fallback for this long. @defaultValue 1000 */
  retryAfterFailureMillis?: number;
  /** Called with errors the ledger absorbed (log them). */
  onError?: (error: unknown, operation: string) => void;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** Counters for /metrics and /readyz. */
export interface RedisBudgetLedgerStats {
  /** True while decisions are made from local counters. */
  degraded: boolean;
  /** Scopes with spend waiting to be added to Redis. */
  pendingScopes: number;
  /** Redis reservations waiting to be released. */
  pendingReleases: number;
  /** Requests reserved locally and not settled yet. */
  localReservations: number;
  /** Reserves decided locally since start (`open`), or refused (`closed`). */
  degradedReserves: number;
  /** Times Redis was found to have lost its data and last-known spend was restored. */
  restores: number;
}

const reserveScript = new LuaScript(RESERVE_LUA);
const epochScript = new LuaScript(EPOCH_LUA);

/**
 * Distributed-mode ledger: spend, reservations and "already reported" flags live in Redis and
 * are changed only by Lua scripts, so every gateway replica sees one atomic ledger. A reserve
 * is exactly one round trip (EVALSHA; EVAL once after Redis restarted); it also reads the
 * session's affinity when asked (`affinityKey`).
 *
 * Split by responsibility: reserve-script-call.ts (the script's arguments and reply),
 * known-budget-scopes.ts (what Redis last said), pending-budget-writes.ts (what Redis is owed),
 * replay-budget-writes.ts (restore and replay after an outage); this class decides which runs.
 *
 * Degraded behaviour (documented in docs/RESILIENCE.md):
 * - Redis unreachable (not `ready`, a command failed or timed out): with `on_unavailable: open`
 *   this replica decides from local counters seeded with the last values it saw in Redis, so a
 *   developer already over budget stays paused; spend settled meanwhile is kept and added to
 *   Redis when it answers again (`ready`). Budgets are then enforced per replica, not globally,
 *   and a stage crossed during the outage may be reported by each replica once. With
 *   `closed`, reserve rejects with a 503 GatewayError (`not_ready`) and spend of requests
 *   already admitted is still kept and replayed.
 * - Redis restarted and lost its data (detected by an epoch key): each replica restores the
 *   last spend it knew per scope (largest value wins, counted once) before replaying.
 * - Reservations of a replica that died are released by TTL (`reservationTtlMillis`).
 * - A settle that ran in Redis but whose reply was lost (timeout) is replayed as well: its spend
 *   may count twice. Over-counting is the chosen side of that trade-off; under-counting is not.
 * - A reserve that ran in Redis after timing out leaves a reservation that `settle` releases.
 * No call ever crashes the process or waits on Redis longer than the client's command timeout.
 */
export class RedisBudgetLedger implements BudgetLedger {
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly onUnavailable: 'open' | 'closed';
  private readonly affinity: RedisAffinityStore | undefined;
  private readonly reservationTtlMillis: number;
  private readonly retryAfterFailureMillis: number;
  private readonly onError: (error: unknown, operation: string) => void;
  private readonly now: () => number;
  private readonly keys: BudgetKeys;
  private readonly local: MemoryBudgetLedger;
  private readonly known = new KnownBudgetScopes();
  private readonly pending = new PendingBudgetWrites();
  private readonly localReservations = new Set<string>();
  /** Degraded reservations whose Redis script was sent but failed (a timeout): it may have run late. */
  private readonly maybeReservedInRedis = new Set<string>();
  private unavailableUntil = 0;
  private degraded = false;
  private degradedReserves = 0;
  private restores = 0;
  private epoch: string | undefined;
  private reconciling: Promise<void> | undefined;
  private replayTimer: NodeJS.Timeout | undefined;
  private readonly onReady: () => void;

  constructor(options: RedisBudgetLedgerOptions) {
    this.redis = options.redis;
    this.prefix = options.keyPrefix ?? 'gatehouse:';
    this.onUnavailable = options.onUnavailable ?? 'open';
    this.affinity = options.affinity;
    this.reservationTtlMillis = options.reservationTtlMillis ?? 1_200_000;
    this.retryAfterFailureMillis = options.retryAfterFailureMillis ?? 1000;
    this.onError = options.onError ?? (() => {});
    this.now = options.now ?? Date.now;
    const prefix = this.prefix;
    this.keys = {
      expiryKey: `${prefix}budget-rq-expiry`,
      reservationKey: (requestId) => `${prefix}budget-rq:${requestId}`,
      affinityKey: (affinityKey) => `${prefix}affinity:${affinityKey}`,
      scopeKey: (scopeId) => `${prefix}budget:${scopeId}`,
    };
    this.local = new MemoryBudgetLedger({ reservationTtlMillis: this.reservationTtlMillis, now: this.now });
    this.onReady = () => void this.reconcile();
    this.redis.on('ready', this.onReady);
    if (this.redis.status === 'ready') void this.reconcile();
  }

  /** Redis key of a scope (exported for tests and operators). */
  scopeKey(scopeId: string): string {
    return this.keys.scopeKey(scopeId);
  }

  async reserve(request: ReserveRequest): Promise<ReserveResult> {
    if (request.scopes.length === 0 && request.affinityKey === undefined) return admittedNoBudget();
    // Right after a (re)connect, wait for the epoch check/restore/replay so that a Redis that
    // lost its data is not trusted with an empty ledger.
    if (this.reconciling !== undefined) await this.reconciling;
    if (!this.available()) return this.reserveDegraded(request);
    const call = reserveScriptCall(request, this.keys, this.now(), this.reservationTtlMillis);
    let reply: unknown[];
    try {
      reply = (await reserveScript.run(this.redis, call.keys, call.args)) as unknown[];
    } catch (error) {
      this.markFailure(error, 'reserve');
      const degraded = this.reserveDegraded(request);
      // A timed-out script may still run in Redis: its reservation is released with the settle.
      if (degraded.admitted && request.scopes.length > 0) this.maybeReservedInRedis.add(request.requestId);
      return degraded;
    }
    const now = this.now();
    if (this.degraded) this.degraded = false;
    const { result, observed } = readReserveReply(request, reply, call);
    for (const scope of observed) this.known.remember(scope.scope, scope.spend, scope.reserved, scope.newFlags, now);
    return result;
  }

  async settle(request: SettleRequest): Promise<void> {
    const actual = usdToMicros(request.actualUsd);
    const wasLocal = this.localReservations.delete(request.requestId);
    const maybeInRedis = this.maybeReservedInRedis.delete(request.requestId);
    if (wasLocal) {
      this.seedLocal(request.scopes);
      this.local.settle(request);
    }
    const reservationKey = this.keys.reservationKey(request.requestId);
    // As for reserve: wait for a reconnect's reconciliation. A settle arriving meanwhile still saw the
    // outage's back-off and went to the pending writes after the replay had taken them, where it stayed
    // until the next outage (Redis spend short of the spans by a turn or two after a restart).
    if (this.reconciling !== undefined) await this.reconciling;
    if (this.available()) {
      const keys: string[] = [this.keys.expiryKey, reservationKey];
      const args: (string | number)[] = [];
      for (const scope of request.scopes) {
        keys.push(this.keys.scopeKey(scope.id));
        args.push(actual, 0, scopeExpiresAt(scope));
      }
      try {
        await settleScript.run(this.redis, keys, args);
        for (const scope of request.scopes) this.known.addSettled(scope.id, actual);
        return;
      } catch (error) {
        this.markFailure(error, 'settle');
      }
    }
    // Redis unreachable: keep the spend for replay, and count it locally so this replica keeps enforcing.
    if (!wasLocal || maybeInRedis) this.pending.addRelease(reservationKey);
    if (!wasLocal) {
      this.seedLocal(request.scopes);
      this.local.settle({ ...request, requestId: '' });
    }
    for (const scope of request.scopes) this.pending.add(scope, actual, 0);
    this.replaySoonIfConnected();
  }

  /**
   * Pending writes are replayed when Redis comes back (`ready`). A command that failed while the
   * connection stayed up (a timeout, a busy Redis) only starts a back-off: no `ready` will follow, so
   * the replay is scheduled for when the back-off ends instead of waiting for the next outage.
   */
  private replaySoonIfConnected(): void {
    if (this.redis.status !== 'ready' || this.replayTimer !== undefined) return;
    const delay = Math.min(this.retryAfterFailureMillis, Math.max(0, this.unavailableUntil - this.now())) + 10;
    this.replayTimer = setTimeout(() => {
      this.replayTimer = undefined;
      void this.reconcile();
    }, delay);
    this.replayTimer.unref();
  }

  async snapshot(scopes: readonly BudgetScope[]): Promise<BudgetScopeSnapshot[]> {
    if (scopes.length === 0) return [];
    if (this.available()) {
      try {
        const pipeline = this.redis.pipeline();
        for (const scope of scopes) pipeline.hmget(this.keys.scopeKey(scope.id), 's', 'r');
        const results = (await pipeline.exec()) ?? [];
        return scopes.map((scope, index) => {
          const [error, values] = results[index] ?? [new Error('missing reply'), null];
          if (error) throw error;
          const [spend, reserved] = (values as (string | null)[]).map((value) => Number(value ?? 0));
          return toSnapshot(scope, spend ?? 0, reserved ?? 0);
        });
      } catch (error) {
        this.markFailure(error, 'snapshot');
      }
    }
    return scopes.map((scope) => {
      const known = this.known.get(scope.id);
      const local = this.local.peek(scope.id);
      if (local !== undefined) return toSnapshot(scope, local.spendMicros, local.reservedMicros);
      return toSnapshot(scope, (known?.spend ?? 0) + this.pending.amountOf(scope.id), known?.reserved ?? 0);
    });
  }

  /**
   * Brings Redis up to date after an outage: detects data loss (epoch), restores last-known
   * spend, releases reservations and adds spend recorded while Redis was away. Runs on every
   * `ready` event; safe to call at any time; never throws.
   */
  reconcile(): Promise<void> {
    this.reconciling ??= this.reconcileOnce().finally(() => {
      this.reconciling = undefined;
    });
    return this.reconciling;
  }

  /**
   * Resolves once Redis answered and the first reconciliation ran, or after `timeoutMillis`
   * (then the ledger runs degraded until Redis is `ready`). Await it at start-up. Never rejects.
   */
  async ready(timeoutMillis = 2000): Promise<void> {
    if (this.redis.status !== 'ready') {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, timeoutMillis);
        const redis = this.redis;
        function done(): void {
          clearTimeout(timer);
          redis.off('ready', done);
          resolve();
        }
        redis.once('ready', done);
      });
    }
    await this.reconcile();
  }

  stats(): RedisBudgetLedgerStats {
    return {
      degraded: this.degraded,
      pendingScopes: this.pending.scopeCount,
      pendingReleases: this.pending.releaseCount,
      localReservations: this.localReservations.size,
      degradedReserves: this.degradedReserves,
      restores: this.restores,
    };
  }

  /** Stops listening to the client (the caller owns and quits the client). */
  async close(): Promise<void> {
    this.redis.off('ready', this.onReady);
    clearTimeout(this.replayTimer);
    await this.reconciling;
  }

  private available(): boolean {
    if (this.redis.status !== 'ready') return false;
    if (this.unavailableUntil === 0) return true;
    if (this.now() < this.unavailableUntil) return false;
    this.unavailableUntil = 0;
    return true;
  }

  private markFailure(error: unknown, operation: string): void {
    this.unavailableUntil = this.now() + this.retryAfterFailureMillis;
    this.onError(error, operation);
  }

  private reserveDegraded(request: ReserveRequest): ReserveResult {
    const localAffinity = request.affinityKey === undefined ? undefined : this.affinity?.getLocalByKey(request.affinityKey);
    // No budget applies: nothing to account for, so even `closed` lets it through.
    if (request.scopes.length === 0) return { ...admittedNoBudget(localAffinity), degraded: true };
    this.degradedReserves++;
    if (!this.degraded) {
      // A new outage: start local counters from what Redis last said.
      this.degraded = true;
      if (this.localReservations.size === 0) this.local.clear();
    }
    if (this.onUnavailable === 'closed') {
      throw new GatewayError('not_ready', {
        message:
          'gatehouse: the budget store (Redis) is unreachable and this gateway is configured to refuse requests it cannot account for (redis.on_unavailable: closed); retry in a moment',
        retryable: true,
      });
    }
    this.seedLocal(request.scopes);
    const result = this.local.reserve({ ...request, affinityKey: undefined });
    if (result.admitted && usdToMicrosCeil(request.estimateUsd) > 0 && request.scopes.length > 0) this.localReservations.add(request.requestId);
    for (const crossing of result.crossed) this.pending.add(crossing.scope, 0, FLAG_OF_STAGE[crossing.stage]);
    if (result.crossed.length > 0) this.replaySoonIfConnected();
    return { ...result, affinity: localAffinity, degraded: true };
  }

  private seedLocal(scopes: readonly BudgetScope[]): void {
    for (const scope of scopes) {
      if (this.local.has(scope.id)) continue;
      const known = this.known.get(scope.id);
      // Outstanding reservations are counted as spend: they most likely become spend.
      this.local.seed(scope.id, known === undefined ? 0 : known.spend + known.reserved, known?.flags ?? 0, scopeExpiresAt(scope));
    }
  }

  private async reconcileOnce(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      const epoch = String(await epochScript.run(this.redis, [`${this.prefix}epoch`], [randomUUID()]));
      if (this.epoch !== undefined && epoch !== this.epoch) {
        await restoreKnownSpend(this.redis, this.keys, this.known, this.now());
        this.restores++;
      }
      this.epoch = epoch;
      await replayPendingWrites(this.redis, this.keys, this.pending, this.known);
      this.unavailableUntil = 0;
    } catch (error) {
      this.markFailure(error, 'reconcile');
    }
  }
}

const FLAG_OF_STAGE = { alert: FLAG_ALERT, downgrade: FLAG_DOWNGRADE, pause: FLAG_PAUSE } as const;

function toSnapshot(scope: BudgetScope, spend: number, reserved: number): BudgetScopeSnapshot {
  const limit = usdToMicros(scope.limitUsd);
  return {
    scopeId: scope.id,
    spendUsd: spend / MICROS_PER_USD,
    reservedUsd: reserved / MICROS_PER_USD,
    limitUsd: scope.limitUsd,
    ratio: limit > 0 ? (spend + reserved) / limit : 0,
  };
}
