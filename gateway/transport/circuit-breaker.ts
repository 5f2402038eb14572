/**
 * Per-target circuit breaker and concurrency limiter. A target is one upstream model on one
 * provider (`targetKey(provider, model)`). Pure in-process state, O(1) per call, no timers.
 *
 *   closed ──N consecutive failures──▶ open ──cool-down elapsed──▶ half-open
 *     ▲                                  ▲                            │ up to `halfOpenProbes` requests
 *     └────────── a probe succeeds ──────┼──────── a probe fails ─────┘
 *
 * Each replica keeps its own breaker (a dead upstream is seen by every replica within N
 * requests; sharing breaker state through Redis would add a round trip for little gain).
 *
 * What counts as a failure is the caller's call: connection errors, timeouts, 5xx and 429 from
 * upstream are; a 4xx caused by the request (400, 401, 403, 404, 413) is not (call `onSuccess`,
 * or nothing, for those).
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. @defaultValue 5 */
  failureThreshold?: number;
  /** How long an open circuit refuses before letting probes through. @defaultValue 10000 */
  coolDownMillis?: number;
  /** Concurrent probes allowed while half-open. @defaultValue 1 */
  halfOpenProbes?: number;
  /** Concurrent requests per target unless `concurrencyFor` says otherwise. @defaultValue 256 */
  maxConcurrency?: number;
  /** Per-target concurrency limit (e.g. from the provider's `max_concurrency`). */
  concurrencyFor?: (target: string) => number | undefined;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** One target's state, as exposed on /metrics. */
export interface CircuitSnapshot {
  target: string;
  state: CircuitState;
  consecutiveFailures: number;
  inFlight: number;
  maxConcurrency: number;
  /** When the circuit last opened (ms since epoch), 0 if never. */
  openedAt: number;
  /** Times the circuit opened since start. */
  opens: number;
  /** Requests refused because the circuit was open or the target was at its limit. */
  rejected: number;
}

/** Why `acquire` refused. */
export type AcquireRefusal = 'circuit_open' | 'concurrency_limit';

interface TargetState {
  state: CircuitState;
  failures: number;
  openedAt: number;
  probes: number;
  inFlight: number;
  limit: number;
  opens: number;
  rejected: number;
}

/** The key of a target: `provider/model`. */
export function targetKey(provider: string, model: string): string {
  return `${provider}/${model}`;
}

export class CircuitBreaker {
  private readonly targets = new Map<string, TargetState>();
  private readonly failureThreshold: number;
  private readonly coolDownMillis: number;
  private readonly halfOpenProbes: number;
  private readonly maxConcurrency: number;
  private readonly concurrencyFor: ((target: string) => number | undefined) | undefined;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureThreshold = Math.max(1, options.failureThreshold ?? 5);
    this.coolDownMillis = options.coolDownMillis ?? 10_000;
    this.halfOpenProbes = Math.max(1, options.halfOpenProbes ?? 1);
    this.maxConcurrency = options.maxConcurrency ?? 256;
    this.concurrencyFor = options.concurrencyFor;
    this.now = options.now ?? Date.now;
  }

  /**
   * Whether a request to `target` would be let through now (read-only: use it to skip a
   * target while choosing a fallback; then `acquire` it).
   */
  canAttempt(target: string): boolean {
    const state = this.targets.get(target);
    if (state === undefined) return true;
    return this.refusal(state) === undefined;
  }

  /** The current circuit state of `target` (an open circuit past its cool-down reads as half-open). */
  stateOf(target: string): CircuitState {
    const state = this.targets.get(target);
    if (state === undefined) return 'closed';
    if (state.state === 'open' && this.now() - state.openedAt >= this.coolDownMillis) return 'half_open';
    return state.state;
  }

  /**
   * Takes a concurrency slot (and a probe slot when half-open). Returns undefined when granted
   * (call `release` exactly once afterwards), otherwise why not.
   */
  acquire(target: string): AcquireRefusal | undefined {
    const state = this.stateFor(target);
    const refusal = this.refusal(state);
    if (refusal !== undefined) {
      state.rejected++;
      return refusal;
    }
    if (state.state === 'open') {
      state.state = 'half_open';
      state.probes = 0;
    }
    if (state.state === 'half_open') state.probes++;
    state.inFlight++;
    return undefined;
  }

  /** Gives back the slot taken by `acquire`. */
  release(target: string): void {
    const state = this.targets.get(target);
    if (state === undefined) return;
    if (state.inFlight > 0) state.inFlight--;
    if (state.state === 'half_open' && state.probes > 0) state.probes--;
  }

  /** The target answered: close the circuit. */
  onSuccess(target: string): void {
    const state = this.targets.get(target);
    if (state === undefined) return;
    state.failures = 0;
    if (state.state !== 'closed') {
      state.state = 'closed';
      state.probes = 0;
    }
  }

  /** The target failed (connection error, timeout, 5xx, 429): count it; a failed probe re-opens. */
  onFailure(target: string): void {
    const state = this.stateFor(target);
    state.failures++;
    if (state.state === 'half_open' || (state.state === 'closed' && state.failures >= this.failureThreshold)) {
      state.state = 'open';
      state.openedAt = this.now();
      state.probes = 0;
      state.opens++;
    }
  }

  /** Every known target's state, for /metrics. */
  snapshot(): CircuitSnapshot[] {
    return [...this.targets].map(([target, state]) => ({
      target,
      state: this.stateOf(target),
      consecutiveFailures: state.failures,
      inFlight: state.inFlight,
      maxConcurrency: state.limit,
      openedAt: state.openedAt,
      opens: state.opens,
      rejected: state.rejected,
    }));
  }

  private stateFor(target: string): TargetState {
    let state = this.targets.get(target);
    if (state === undefined) {
      state = {
        state: 'closed',
        failures: 0,
        openedAt: 0,
        probes: 0,
        inFlight: 0,
        limit: this.concurrencyFor?.(target) ?? this.maxConcurrency,
        opens: 0,
        rejected: 0,
      };
      this.targets.set(target, state);
    }
    return state;
  }

  private refusal(state: TargetState): AcquireRefusal | undefined {
    if (state.inFlight >= state.limit) return 'concurrency_limit';
    if (state.state === 'closed') return undefined;
    if (state.state === 'open') return this.now() - state.openedAt >= this.coolDownMillis ? undefined : 'circuit_open';
    return state.probes < this.halfOpenProbes ? undefined : 'circuit_open';
  }
}

/** Prometheus metric names of the breaker. */
export const CIRCUIT_STATE_METRIC = 'gatehouse_upstream_circuit_state';
export const CIRCUIT_IN_FLIGHT_METRIC = 'gatehouse_upstream_in_flight';
export const CIRCUIT_OPENS_METRIC = 'gatehouse_upstream_circuit_opens_total';
export const CIRCUIT_REJECTED_METRIC = 'gatehouse_upstream_rejected_total';

const STATE_VALUE: Record<CircuitState, number> = { closed: 0, half_open: 1, open: 2 };

function label(value: string): string {
  return value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');
}

/** Prometheus text for the breaker's targets (append to /metrics). */
export function renderCircuitMetrics(snapshots: readonly CircuitSnapshot[]): string {
  const lines = [
    `# HELP ${CIRCUIT_STATE_METRIC} Circuit state per upstream target: 0 closed, 1 half-open, 2 open.`,
    `# TYPE ${CIRCUIT_STATE_METRIC} gauge`,
    ...snapshots.map((s) => `${CIRCUIT_STATE_METRIC}{target="${label(s.target)}"} ${STATE_VALUE[s.state]}`),
    `# HELP ${CIRCUIT_IN_FLIGHT_METRIC} Requests in flight per upstream target.`,
    `# TYPE ${CIRCUIT_IN_FLIGHT_METRIC} gauge`,
    ...snapshots.map((s) => `${CIRCUIT_IN_FLIGHT_METRIC}{target="${label(s.target)}"} ${s.inFlight}`),
    `# HELP ${CIRCUIT_OPENS_METRIC} Times the circuit of an upstream target opened.`,
    `# TYPE ${CIRCUIT_OPENS_METRIC} counter`,
    ...snapshots.map((s) => `${CIRCUIT_OPENS_METRIC}{target="${label(s.target)}"} ${s.opens}`),
    `# HELP ${CIRCUIT_REJECTED_METRIC} Requests not sent to an upstream target (circuit open or concurrency limit).`,
    `# TYPE ${CIRCUIT_REJECTED_METRIC} counter`,
    ...snapshots.map((s) => `${CIRCUIT_REJECTED_METRIC}{target="${label(s.target)}"} ${s.rejected}`),
  ];
  return `${lines.join('\n')}\n`;
}
