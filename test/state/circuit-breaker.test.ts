import { describe, expect, it } from 'vitest';
import { CircuitBreaker, renderCircuitMetrics, targetKey } from '../../gateway/transport/circuit-breaker.ts';

describe('CircuitBreaker', () => {
  it('closed → open after N consecutive failures → half-open after the cool-down → closed on success', () => {
    let now = 1_000;
    const breaker = new CircuitBreaker({ failureThreshold: 3, coolDownMillis: 5_000, now: () => now });
    const target = targetKey('openai', 'gpt-5.5');
    expect(breaker.stateOf(target)).toBe('closed');
    breaker.onFailure(target);
    breaker.onFailure(target);
    breaker.onSuccess(target); // not consecutive any more
    breaker.onFailure(target);
    breaker.onFailure(target);
    expect(breaker.canAttempt(target)).toBe(true);
    breaker.onFailure(target);
    expect(breaker.stateOf(target)).toBe('open');
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
      { target: 'openai/gpt-5.5', state: 'closed', consecutiveFailures: 0, inFlight: 0, maxConcurrency: 256, openedAt: 1_000, opens: 1, rejected: 2 },
    ]);
  });

  it('a failed probe re-opens the circuit for another cool-down', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMillis: 100, now: () => now });
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
    const breaker = new CircuitBreaker({ failureThreshold: 1 });
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
