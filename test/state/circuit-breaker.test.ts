import { describe, expect, it } from 'vitest';
import { CircuitBreaker, renderCircuitMetrics, targetKey } from '../../gateway/transport/circuit-breaker.ts';

describe('CircuitBreaker', () => {
  it('closed → open when the failure rate over the window reaches the threshold (with the minimum volume) → half-open after the cool-down → closed on success', () => {
    let now = 1_000;
    const transitions: string[] = [];
    const breaker = new CircuitBreaker({ failureRate: 0.5, minimumRequests: 4, coolDownMillis: 5_000, now: () => now, onTransition: (change) => transitions.push(`${change.from}→${change.to} ${change.failures}/${change.requests} ${change.lastFailure}`) });
    const target = targetKey('openai', 'gpt-5.5');
    expect(breaker.stateOf(target)).toBe('closed');
    breaker.onFailure(target);
    breaker.onFailure(target);
    breaker.onFailure(target);
    expect(breaker.canAttempt(target)).toBe(true); // 3 requests: under the minimum volume
    breaker.onSuccess(target);
    breaker.onSuccess(target);
    breaker.onSuccess(target);
    breaker.onSuccess(target);
    breaker.onFailure(target); // 4 of 8 = 50 %
    expect(breaker.stateOf(target)).toBe('open');
    breaker.onFailure(target, 'upstream_error UND_ERR_SOCKET'); // already open: no second transition
    expect(breaker.canAttempt(target)).toBe(false);
    expect(breaker.acquire(target)).toBe('circuit_open');
    now += 4_999;
    expect(breaker.canAttempt(target)).toBe(false);
    now += 1;
    expect(breaker.stateOf(target)).toBe('half_open');
    expect(breaker.canAttempt(target)).toBe(true);
    expect(breaker.acquire(target)).toBeUndefined(); // the probe
    expect(breaker.acquire(target)).toBe('circuit_open'); // one probe at a time
    breaker.onSuccess(target);
    breaker.release(target);
    expect(breaker.stateOf(target)).toBe('closed');
    expect(breaker.acquire(target)).toBeUndefined();
    expect(breaker.acquire(target)).toBeUndefined();
    breaker.release(target);
    breaker.release(target);
    expect(breaker.snapshot()).toEqual([
      { target: 'openai/gpt-5.5', state: 'closed', windowFailures: 0, windowRequests: 0, inFlight: 0, maxConcurrency: 256, openedAt: 1_000, opens: 1, closes: 1, rejected: 2, panics: 0 },
    ]);
    expect(transitions).toEqual(['closed→open 4/8 ', 'open→half_open 5/9 upstream_error UND_ERR_SOCKET', 'half_open→closed 5/10 upstream_error UND_ERR_SOCKET']);
  });

  it('a burst of failures among many answers does not open the circuit (it did with 5 consecutive failures)', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ now: () => now });
    for (let index = 0; index < 200; index++) breaker.onSuccess('p/m');
    for (let index = 0; index < 30; index++) breaker.onFailure('p/m');
    expect(breaker.stateOf('p/m')).toBe('closed');
    // The window slides: ten seconds later the old successes no longer count.
    now += 10_000;
    for (let index = 0; index < 5; index++) breaker.onFailure('p/m');
    expect(breaker.stateOf('p/m')).toBe('open');
  });

  it('panic: an open target is still acquired when the caller says every target is open, and counted', () => {
    const breaker = new CircuitBreaker({ minimumRequests: 1 });
    breaker.onFailure('p/m');
    expect(breaker.acquire('p/m')).toBe('circuit_open');
    expect(breaker.acquire('p/m', { panic: true })).toBeUndefined();
    breaker.release('p/m');
    expect(breaker.snapshot()[0]).toMatchObject({ state: 'open', panics: 1, rejected: 1, inFlight: 0 });
    expect(renderCircuitMetrics(breaker.snapshot())).toContain('gatehouse_upstream_panic_total{target="p/m"} 1');
  });

  it('a failed probe re-opens the circuit for another cool-down', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ minimumRequests: 1, coolDownMillis: 100, now: () => now });
    breaker.onFailure('p/m');
    now = 100;
    expect(breaker.acquire('p/m')).toBeUndefined();
    breaker.onFailure('p/m');
    breaker.release('p/m');
    expect(breaker.stateOf('p/m')).toBe('open');
    now = 150;
    expect(breaker.canAttempt('p/m')).toBe(false);
    now = 200;
    expect(breaker.canAttempt('p/m')).toBe(true);
    expect(breaker.snapshot()[0]!.opens).toBe(2);
  });

  it('limits concurrency per target', () => {
    const breaker = new CircuitBreaker({ maxConcurrency: 8, concurrencyFor: (target) => (target.startsWith('local/') ? 2 : undefined) });
    expect(breaker.acquire('local/llama')).toBeUndefined();
    expect(breaker.acquire('local/llama')).toBeUndefined();
    expect(breaker.acquire('local/llama')).toBe('concurrency_limit');
    expect(breaker.canAttempt('local/llama')).toBe(false);
    expect(breaker.acquire('openai/gpt-5.5')).toBeUndefined(); // other targets are independent
    breaker.release('local/llama');
    expect(breaker.acquire('local/llama')).toBeUndefined();
    for (let index = 1; index < 8; index++) expect(breaker.acquire('openai/gpt-5.5')).toBeUndefined();
    expect(breaker.acquire('openai/gpt-5.5')).toBe('concurrency_limit');
  });

  it('renders Prometheus text', () => {
    const breaker = new CircuitBreaker({ minimumRequests: 1 });
    breaker.onFailure('anthropic/claude "x"');
    const text = renderCircuitMetrics(breaker.snapshot());
    expect(text).toContain('gatehouse_upstream_circuit_state{target="anthropic/claude \\"x\\""} 2');
    expect(text).toContain('# TYPE gatehouse_upstream_circuit_opens_total counter');
  });
});

describe('renderStateMetrics', () => {
  it('renders ledger and alert counters', async () => {
    const { renderStateMetrics } = await import('../../gateway/state/state-metrics.ts');
    const text = renderStateMetrics({
      ledger: { degraded: true, pendingScopes: 2, pendingReleases: 1, localReservations: 0, degradedReserves: 7, restores: 1 },
      alerts: { queued: 1, inFlight: 1, delivered: 5, failed: 0, dropped: 0, attempts: 6 },
    });
    expect(text).toContain('gatehouse_budget_ledger_degraded 1\n');
    expect(text).toContain('gatehouse_budget_pending_scopes 3\n');
    expect(text).toContain('gatehouse_alerts_queued 2\n');
    expect(renderStateMetrics({})).toBe('');
  });
});
