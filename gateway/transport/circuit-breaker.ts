/**
 * Per-target circuit breaker and concurrency limiter. A target is one upstream model on one
 * provider (`targetKey(provider, model)`). Pure in-process state, O(1) per call, no timers.
 *
 *   closed ──failure rate ≥ threshold over the window (with ≥ minimumRequests)──▶ open
 *     ▲                                                                          │ cool-down elapsed
 *     └──────── a probe succeeds ◀── half-open (up to `halfOpenProbes`) ◀────────┘
 *                                       └── a probe fails ──▶ open again
 *
 * A rate over a sliding window, not N consecutive failures: at 64-way concurrency five failures
 * in a row are one burst (a few resets among thousands of answers), and opening on them took the
 * only provider down for a whole cool-down. The window is `windowBuckets` one-second buckets.
 *
 * Each replica keeps its own breaker (a dead upstream is seen by every replica within a few
 * requests; sharing breaker state through Redis would add a round trip for little gain).
 *
 * What counts as a failure is the caller's call: connection errors, timeouts, 5xx and 429 from
 * upstream are; a 4xx caused by the request (400, 401, 403, 404, 413) and a client that went away
 * are not (call `onSuccess`, or nothing, for those).
 */

export type CircuitState = 'closed' | 'open' | 'half_open';

export interface CircuitBreakerOptions {
  /** Share of failed requests in the window that opens the circuit. @defaultValue 0.5 */
  failureRate?: number;
  /** Requests (successes + failures) the window must hold before the rate can open it. @defaultValue 5 */
  minimumRequests?: number;
  /** Sliding window length, in whole seconds. @defaultValue 10 */
  windowSeconds?: number;
  /** How long an open circuit refuses before letting probes through. @defaultValue 10000 */
  coolDownMillis?: number;
  /** Concurrent probes allowed while half-open. @defaultValue 1 */
  halfOpenProbes?: number;
  /** Concurrent requests per target unless `concurrencyFor` says otherwise. @defaultValue 256 */
  maxConcurrency?: number;
  /** Per-target concurrency limit (e.g. from the provider's `max_concurrency`). */
  concurrencyFor?: (target: string) => number | undefined;
  /** Told about every state change (logged, counted and audited by the caller). Must not throw. */
  onTransition?: (transition: CircuitTransition) => void;
  /** Clock, for tests. @defaultValue Date.now */
  now?: () => number;
}

/** One state change of a target's circuit, with the window that caused it. */
export interface CircuitTransition {
  target: string;
  from: CircuitState;
  to: CircuitState;
  /** Failures and requests in the window when it changed. */
  failures: number;
  requests: number;
  /** What the last failure was (e.g. `upstream_error UND_ERR_SOCKET`), when the caller said. */
  lastFailure: string;
}

/** One target's state, as exposed on /metrics. */
export interface CircuitSnapshot {
  target: string;
  state: CircuitState;
  /** Failures and requests in the sliding window. */
  windowFailures: number;
  windowRequests: number;
  inFlight: number;
  maxConcurrency: number;
  /** When the circuit last opened (ms since epoch), 0 if never. */
  openedAt: number;
  /** Times the circuit opened since start. */
  opens: number;
  /** Times it closed again (a probe succeeded). */
  closes: number;
  /** Requests refused because the circuit was open or the target was at its limit. */
  rejected: number;
  /** Requests sent although the circuit was open, because every target they could use was open. */
  panics: number;
}

/** Why `acquire` refused. */
export type AcquireRefusal = 'circuit_open' | 'concurrency_limit';

interface TargetState {
  state: CircuitState;
  /** Ring of per-second buckets: second number, failures, requests. */
  bucketSecond: number[];
  bucketFailures: number[];
  bucketRequests: number[];
  openedAt: number;
  probes: number;
  inFlight: number;
  limit: number;
  opens: number;
  closes: number;
  rejected: number;
  panics: number;
  lastFailure: string;
}

/** The key of a target: `provider/model`. */
export function targetKey(provider: string, model: string): string {
  return `${provider}/${model}`;
}

export class CircuitBreaker {
  private readonly targets = new Map<string, TargetState>();
  private readonly failureRate: number;
  private readonly minimumRequests: number;
  private readonly windowSeconds: number;
  private readonly coolDownMillis: number;
  private readonly halfOpenProbes: number;
  private readonly maxConcurrency: number;
  private readonly concurrencyFor: ((target: string) => number | undefined) | undefined;
  private readonly onTransition: ((transition: CircuitTransition) => void) | undefined;
  private readonly now: () => number;

  constructor(options: CircuitBreakerOptions = {}) {
    this.failureRate = Math.min(1, Math.max(0.01, options.failureRate ?? 0.5));
    this.minimumRequests = Math.max(1, options.minimumRequests ?? 5);
    this.windowSeconds = Math.max(1, Math.floor(options.windowSeconds ?? 10));
    this.coolDownMillis = options.coolDownMillis ?? 10_000;
    this.halfOpenProbes = Math.max(1, options.halfOpenProbes ?? 1);
    this.maxConcurrency = options.maxConcurrency ?? 256;
    this.concurrencyFor = options.concurrencyFor;
    this.onTransition = options.onTransition;
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
   * (call `release` exactly once afterwards), otherwise why not. `panic`: every target the request
   * could use is open, so this one is tried anyway (Envoy's panic threshold): failing everything
   * would turn a flaky provider into a total outage. The concurrency limit still holds.
   */
  acquire(target: string, options: { panic?: boolean } = {}): AcquireRefusal | undefined {
    const state = this.stateFor(target);
    const refusal = this.refusal(state);
    if (refusal === 'circuit_open' && options.panic === true) {
      state.panics++;
      state.inFlight++;
      return undefined;
    }
    if (refusal !== undefined) {
      state.rejected++;
      return refusal;
    }
    if (state.state === 'open') this.transition(target, state, 'half_open');
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

  /** The target answered: count it; a successful probe closes the circuit. */
  onSuccess(target: string): void {
    const state = this.stateFor(target);
    this.count(state, false);
    if (state.state !== 'closed') {
      this.transition(target, state, 'closed');
      state.probes = 0;
      // A fresh start: the failures that opened it are history.
      state.bucketRequests.fill(0);
      state.bucketFailures.fill(0);
    }
  }

  /**
   * The target failed (connection error, timeout, 5xx, 429): count it; the circuit opens when the
   * window's failure rate reaches the threshold, and a failed probe re-opens it.
   */
  onFailure(target: string, description = ''): void {
    const state = this.stateFor(target);
    this.count(state, true);
    if (description !== '') state.lastFailure = description;
    const { failures, requests } = this.window(state);
    const tripped = state.state === 'closed' && requests >= this.minimumRequests && failures >= this.failureRate * requests;
    if (state.state === 'half_open' || tripped) {
      state.openedAt = this.now();
      state.probes = 0;
      if (state.state !== 'open') {
        state.opens++;
        this.transition(target, state, 'open');
      }
    }
  }

  /** Every known target's state, for /metrics. */
  snapshot(): CircuitSnapshot[] {
    return [...this.targets].map(([target, state]) => {
      const { failures, requests } = this.window(state);
      return {
        target,
        state: this.stateOf(target),
        windowFailures: failures,
        windowRequests: requests,
        inFlight: state.inFlight,
        maxConcurrency: state.limit,
        openedAt: state.openedAt,
        opens: state.opens,
        closes: state.closes,
        rejected: state.rejected,
        panics: state.panics,
      };
    });
  }

  private transition(target: string, state: TargetState, to: CircuitState): void {
    const from = state.state;
    state.state = to;
    if (to === 'closed') state.closes++;
    if (from === to || this.onTransition === undefined) return;
    const { failures, requests } = this.window(state);
    this.onTransition({ target, from, to, failures, requests, lastFailure: state.lastFailure });
  }

  private count(state: TargetState, failed: boolean): void {
    const second = Math.floor(this.now() / 1000);
    const slot = second % this.windowSeconds;
    if (state.bucketSecond[slot] !== second) {
      state.bucketSecond[slot] = second;
      state.bucketFailures[slot] = 0;
      state.bucketRequests[slot] = 0;
    }
    state.bucketRequests[slot] = (state.bucketRequests[slot] ?? 0) + 1;
    if (failed) state.bucketFailures[slot] = (state.bucketFailures[slot] ?? 0) + 1;
  }

  private window(state: TargetState): { failures: number; requests: number } {
    const oldest = Math.floor(this.now() / 1000) - this.windowSeconds + 1;
    let failures = 0;
    let requests = 0;
    for (let slot = 0; slot < this.windowSeconds; slot++) {
      if ((state.bucketSecond[slot] ?? -1) < oldest) continue;
      failures += state.bucketFailures[slot] ?? 0;
      requests += state.bucketRequests[slot] ?? 0;
    }
    return { failures, requests };
  }

  private stateFor(target: string): TargetState {
    let state = this.targets.get(target);
    if (state === undefined) {
      state = {
        state: 'closed',
        bucketSecond: new Array<number>(this.windowSeconds).fill(-1),
        bucketFailures: new Array<number>(this.windowSeconds).fill(0),
        bucketRequests: new Array<number>(this.windowSeconds).fill(0),
        openedAt: 0,
        probes: 0,
        inFlight: 0,
        limit: this.concurrencyFor?.(target) ?? this.maxConcurrency,
        opens: 0,
        closes: 0,
        rejected: 0,
        panics: 0,
        lastFailure: '',
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
export const CIRCUIT_CLOSES_METRIC = 'gatehouse_upstream_circuit_closes_total';
export const CIRCUIT_PANIC_METRIC = 'gatehouse_upstream_panic_total';

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
    `# HELP ${CIRCUIT_CLOSES_METRIC} Times the circuit of an upstream target closed again after opening.`,
    `# TYPE ${CIRCUIT_CLOSES_METRIC} counter`,
    ...snapshots.map((s) => `${CIRCUIT_CLOSES_METRIC}{target="${label(s.target)}"} ${s.closes}`),
    `# HELP ${CIRCUIT_PANIC_METRIC} Requests sent to an open upstream target because every target they could use was open (panic mode).`,
    `# TYPE ${CIRCUIT_PANIC_METRIC} counter`,
    ...snapshots.map((s) => `${CIRCUIT_PANIC_METRIC}{target="${label(s.target)}"} ${s.panics}`),
  ];
  return `${lines.join('\n')}\n`;
}
