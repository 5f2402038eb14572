import type { Redis } from 'ioredis';

/**
 * Requests and tokens per minute, per developer key and per cost center (policy `limits`, key
 * `limits`). A sliding window over two fixed one-minute buckets (the previous bucket weighted by how
 * much of it still overlaps the last 60 s), the approximation Cloudflare and most gateways use: exact
 * at the edges of a burst, two counters per scope. On Redis one script checks every scope of a
 * request and counts it in all of them at once (one round trip), so the limits hold across replicas.
 */

export interface RateLimits {
  rpm?: number | undefined;
  tpm?: number | undefined;
}

/** One thing a request is counted against: `key:<id>` or `cc:<name>`. */
export interface RateScope {
  id: string;
  /** Words for the message: `developer alice's key`, `cost center platform`. */
  label: string;
  limits: RateLimits;
}

/** What an admitted request counted: its reserved tokens, in the window they were counted in. */
export interface RateReservation {
  tokens: number;
  window: number;
}

export type RateDecision =
  | { ok: true; reservation: RateReservation }
  | { ok: false; scope: RateScope; limit: 'rpm' | 'tpm'; value: number; observed: number; retryAfterMillis: number };

export interface RateLimiter {
  /**
   * Counts one request reserving `tokens` (input estimate + output reservation) in every scope, unless one
   * is over its limit: a request is let in while its reservation fits in what the minute has left, or into
   * an empty window (one larger than the whole limit could otherwise never run).
   */
  admit(scopes: readonly RateScope[], tokens: number, now?: number): Promise<RateDecision>;
  /** Replaces a reservation by the tokens the turn really used (unused ones go back; more are added). */
  settle(scopes: readonly RateScope[], reservation: RateReservation, actualTokens: number, now?: number): void;
  close?(): Promise<void>;
}

const WINDOW_MILLIS = 60_000;

/** The sliding estimate: the previous bucket's share that still lies within the last minute, plus this one. */
function estimate(previous: number, current: number, now: number): number {
  const intoWindow = (now % WINDOW_MILLIS) / WINDOW_MILLIS;
  return previous * (1 - intoWindow) + current;
}

const retryAfter = (now: number) => WINDOW_MILLIS - (now % WINDOW_MILLIS);

interface Buckets {
  window: number;
  requests: number;
  tokens: number;
  previousRequests: number;
  previousTokens: number;
}

/** Embedded mode: counters in this process. */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Buckets>();

  private bucketsOf(scope: string, now: number): Buckets {
    const window = Math.floor(now / WINDOW_MILLIS);
    let buckets = this.buckets.get(scope);
    if (!buckets) this.buckets.set(scope, (buckets = { window, requests: 0, tokens: 0, previousRequests: 0, previousTokens: 0 }));
    if (buckets.window !== window) {
      const adjacent = buckets.window === window - 1;
      buckets.previousRequests = adjacent ? buckets.requests : 0;
      buckets.previousTokens = adjacent ? buckets.tokens : 0;
      buckets.requests = 0;
      buckets.tokens = 0;
      buckets.window = window;
    }
    return buckets;
  }

  async admit(scopes: readonly RateScope[], tokens: number, now = Date.now()): Promise<RateDecision> {
    for (const scope of scopes) {
      const buckets = this.bucketsOf(scope.id, now);
      const refusal = judge(scope, estimate(buckets.previousRequests, buckets.requests, now), estimate(buckets.previousTokens, buckets.tokens, now), tokens, now);
      if (refusal) return refusal;
    }
    for (const scope of scopes) {
      const buckets = this.bucketsOf(scope.id, now);
      buckets.requests += 1;
      buckets.tokens += tokens;
    }
    return { ok: true, reservation: { tokens, window: Math.floor(now / WINDOW_MILLIS) } };
  }

  settle(scopes: readonly RateScope[], reservation: RateReservation, actualTokens: number, now = Date.now()): void {
    const window = Math.floor(now / WINDOW_MILLIS);
    const delta = actualTokens - reservation.tokens;
    for (const scope of scopes) {
      const buckets = this.bucketsOf(scope.id, now);
      // The reservation sits in the bucket it was counted in; one that slid out of the window is gone.
      if (reservation.window === window) buckets.tokens = Math.max(0, buckets.tokens + delta);
      else if (reservation.window === window - 1) buckets.previousTokens = Math.max(0, buckets.previousTokens + delta);
      else if (delta > 0) buckets.tokens += delta;
    }
  }
}

function judge(scope: RateScope, requests: number, tokens: number, reserving: number, now: number): Extract<RateDecision, { ok: false }> | undefined {
  if (scope.limits.rpm !== undefined && requests + 1 > scope.limits.rpm) return { ok: false, scope, limit: 'rpm', value: scope.limits.rpm, observed: Math.round(requests), retryAfterMillis: retryAfter(now) };
  // Admitted while the reservation fits what the minute has left; into an empty window whatever its size.
  if (scope.limits.tpm !== undefined && tokens >= 1 && tokens + Math.max(1, reserving) > scope.limits.tpm) return { ok: false, scope, limit: 'tpm', value: scope.limits.tpm, observed: Math.round(tokens), retryAfterMillis: retryAfter(now) };
  return undefined;
}

/**
 * KEYS: per scope, its current and previous bucket (hashes with fields r and t).
 * ARGV: intoWindow (0–1), tokens, then per scope rpm and tpm (-1 = none).
 * Returns 0 when admitted (and counted everywhere), else {scope index (1-based), 1 = rpm / 2 = tpm, observed}.
 */
const ADMIT_SCRIPT = `
local into = tonumber(ARGV[1])
local tokens = tonumber(ARGV[2])
local scopes = #KEYS / 2
for i = 1, scopes do
  local current = KEYS[2 * i - 1]
  local previous = KEYS[2 * i]
  local rpm = tonumber(ARGV[1 + 2 * i])
  local tpm = tonumber(ARGV[2 + 2 * i])
  local r = tonumber(redis.call('HGET', current, 'r') or '0') + tonumber(redis.call('HGET', previous, 'r') or '0') * (1 - into)
  local t = tonumber(redis.call('HGET', current, 't') or '0') + tonumber(redis.call('HGET', previous, 't') or '0') * (1 - into)
  if rpm >= 0 and r + 1 > rpm then return {i, 1, math.floor(r + 0.5)} end
  if tpm >= 0 and t >= 1 and t + math.max(1, tokens) > tpm then return {i, 2, math.floor(t + 0.5)} end
end
for i = 1, scopes do
  local current = KEYS[2 * i - 1]
  redis.call('HINCRBY', current, 'r', 1)
  redis.call('HINCRBY', current, 't', tokens)
  redis.call('PEXPIRE', current, 130000)
end
return 0
`;

/** Distributed mode: the same windows in Redis, shared by every gateway replica. */
export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis;
  private readonly keyPrefix: string;
  private readonly onError: (error: unknown) => void;

  constructor(options: { redis: Redis; keyPrefix: string; onError: (error: unknown) => void }) {
    this.redis = options.redis;
    this.keyPrefix = options.keyPrefix;
    this.onError = options.onError;
    this.redis.defineCommand('gatehouseRateAdmit', { lua: ADMIT_SCRIPT });
  }

  private bucketKey(scope: string, window: number): string {
    return `${this.keyPrefix}rate:${scope}:${window}`;
  }

  async admit(scopes: readonly RateScope[], tokens: number, now = Date.now()): Promise<RateDecision> {
    const window = Math.floor(now / WINDOW_MILLIS);
    if (scopes.length === 0) return { ok: true, reservation: { tokens: 0, window } };
    const keys = scopes.flatMap((scope) => [this.bucketKey(scope.id, window), this.bucketKey(scope.id, window - 1)]);
    const limits = scopes.flatMap((scope) => [scope.limits.rpm ?? -1, scope.limits.tpm ?? -1]);
    try {
      const result = (await (this.redis as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>).gatehouseRateAdmit!(keys.length, ...keys, (now % WINDOW_MILLIS) / WINDOW_MILLIS, tokens, ...limits)) as number | [number, number, number];
      if (result === 0 || !Array.isArray(result)) return { ok: true, reservation: { tokens, window } };
      const [index, which, observed] = result;
      const scope = scopes[index - 1]!;
      const limit = which === 1 ? 'rpm' : 'tpm';
      return { ok: false, scope, limit, value: scope.limits[limit]!, observed, retryAfterMillis: retryAfter(now) };
    } catch (error) {
      // Rate limits protect the providers' quotas, not money: an unreachable Redis lets traffic through.
      this.onError(error);
      return { ok: true, reservation: { tokens: 0, window } };
    }
  }

  settle(scopes: readonly RateScope[], reservation: RateReservation, actualTokens: number, now = Date.now()): void {
    const delta = actualTokens - reservation.tokens;
    if (delta === 0 || scopes.length === 0) return;
    const window = Math.floor(now / WINDOW_MILLIS);
    // The reservation's own bucket while it still counts (current or previous minute); else only an excess, now.
    const target = reservation.window >= window - 1 ? reservation.window : delta > 0 ? window : undefined;
    if (target === undefined) return;
    const pipeline = this.redis.pipeline();
    for (const scope of scopes) pipeline.hincrby(this.bucketKey(scope.id, target), 't', delta).pexpire(this.bucketKey(scope.id, target), 130_000);
    pipeline.exec().catch(this.onError);
  }
}
