import { describe, expect, it } from 'vitest';
import { budgetScopesFor, type BudgetScope } from '../../gateway/state/budget-periods.ts';
import { MemoryBudgetLedger } from '../../gateway/state/memory-budget-ledger.ts';
import { MemoryAffinityStore } from '../../gateway/state/memory-affinity-store.ts';
import { affinityKeyFor } from '../../gateway/state/affinity-store.ts';

const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
const NOW = Date.parse('2026-11-28T10:00:00Z');

function scopesFor(daily: number, developer = 'alice'): BudgetScope[] {
  return budgetScopesFor({
    developer,
    costCenter: 'platform',
    keyId: 'key_1',
    policyCostCenter: { budgets: { developer: { daily_usd: daily } } },
    now: NOW,
  });
}

describe('MemoryBudgetLedger', () => {
  it('64 concurrent requests against a budget allowing 10: spend never passes the pause stage', async () => {
    const ledger = new MemoryBudgetLedger({ now: () => NOW });
    const scopes = scopesFor(1); // $1, pause at $1.10 = 11 requests of $0.10
    const outcomes = await Promise.all(
      Array.from({ length: 64 }, async (_, index) => {
        const requestId = `r${index}`;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        const result = await ledger.reserve({ requestId, scopes, estimateUsd: 0.1, stages });
        if (!result.admitted) return false;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
        await ledger.settle({ requestId, scopes, estimateUsd: 0.1, actualUsd: 0.1 });
        return true;
      }),
    );
    const [snapshot] = ledger.snapshot(scopes);
    expect(outcomes.filter(Boolean).length).toBe(11);
    expect(snapshot!.spendUsd).toBeCloseTo(1.1, 9);
    expect(snapshot!.spendUsd).toBeLessThanOrEqual(1.1 * 1 + 1e-9);
    expect(snapshot!.reservedUsd).toBe(0);
    expect(ledger.outstanding).toBe(0);
  });

  it('reports stages, and each crossing once per period', () => {
    const ledger = new MemoryBudgetLedger({ now: () => NOW });
    const scopes = scopesFor(10);
    const spend = (usd: number, id: string) => {
      ledger.reserve({ requestId: id, scopes, estimateUsd: usd, stages });
      ledger.settle({ requestId: id, scopes, estimateUsd: usd, actualUsd: usd });
    };
    spend(7.9, 'a');
    const first = ledger.reserve({ requestId: 'b', scopes, estimateUsd: 0.2, stages });
    expect(first).toMatchObject({ admitted: true, stage: 'ok', crossed: [] });
    ledger.settle({ requestId: 'b', scopes, estimateUsd: 0.2, actualUsd: 0.2 });
    const alert = ledger.reserve({ requestId: 'c', scopes, estimateUsd: 0.1, stages });
    expect(alert).toMatchObject({ admitted: true, stage: 'alert' });
    expect(alert.crossed.map((crossing) => [crossing.scopeId, crossing.stage])).toEqual([['dev:alice:daily:2026-11-28', 'alert']]);
    expect(alert.crossed[0]!.spendUsd).toBeCloseTo(8.1, 9);
    const again = ledger.reserve({ requestId: 'd', scopes, estimateUsd: 0.1, stages });
    expect(again).toMatchObject({ admitted: true, stage: 'alert', crossed: [] });
    ledger.settle({ requestId: 'c', scopes, estimateUsd: 0.1, actualUsd: 0.1 });
    ledger.settle({ requestId: 'd', scopes, estimateUsd: 0.1, actualUsd: 0.1 });
    spend(1.5, 'e'); // 9.8 → downgrade
    const downgrade = ledger.reserve({ requestId: 'f', scopes, estimateUsd: 0.5, stages });
    expect(downgrade).toMatchObject({ admitted: true, stage: 'downgrade' });
    expect(downgrade.crossed.map((crossing) => crossing.stage)).toEqual(['downgrade']);
    ledger.settle({ requestId: 'f', scopes, estimateUsd: 0.5, actualUsd: 0.5 }); // 10.3
    const paused = ledger.reserve({ requestId: 'g', scopes, estimateUsd: 1, stages }); // 11.3 > 11
    expect(paused).toMatchObject({ admitted: false, stage: 'pause', limitUsd: 10 });
    if (paused.admitted) throw new Error('unreachable');
    expect(paused.spendUsd).toBeCloseTo(10.3, 9);
    expect(paused.resetsAt.toISOString()).toBe('2026-11-29T00:00:00.000Z');
    expect(paused.crossed.map((crossing) => crossing.stage)).toEqual(['pause']);
    const pausedAgain = ledger.reserve({ requestId: 'h', scopes, estimateUsd: 1, stages });
    expect(pausedAgain).toMatchObject({ admitted: false, crossed: [] });
    // A smaller request still fits under the pause line.
    expect(ledger.reserve({ requestId: 'i', scopes, estimateUsd: 0.5, stages })).toMatchObject({ admitted: true, stage: 'downgrade' });
    // The next day is a new period: no spend, flags reset.
    const tomorrow = budgetScopesFor({
      developer: 'alice',
      costCenter: 'platform',
      keyId: 'key_1',
      policyCostCenter: { budgets: { developer: { daily_usd: 10 } } },
      now: NOW + 86_400_000,
    });
    expect(ledger.reserve({ requestId: 'j', scopes: tomorrow, estimateUsd: 9, stages })).toMatchObject({ admitted: true, stage: 'ok', ratio: 0 });
  });

  it('the tightest scope decides, and the denying scope is named', () => {
    const ledger = new MemoryBudgetLedger({ now: () => NOW });
    const scopes = budgetScopesFor({
      developer: 'alice',
      costCenter: 'platform',
      keyId: 'key_1',
      keyBudgets: { daily_usd: 1 },
      policyCostCenter: { budgets: { developer: { daily_usd: 100 }, cost_center: { monthly_usd: 1000 } } },
      now: NOW,
    });
    ledger.reserve({ requestId: 'a', scopes, estimateUsd: 0.9, stages });
    ledger.settle({ requestId: 'a', scopes, estimateUsd: 0.9, actualUsd: 0.9 });
    const result = ledger.reserve({ requestId: 'b', scopes, estimateUsd: 0.01, stages });
    expect(result).toMatchObject({ admitted: true, stage: 'alert' });
    expect(result.scope?.id).toBe('key:key_1:daily:2026-11-28');
    const denied = ledger.reserve({ requestId: 'c', scopes, estimateUsd: 0.5, stages });
    expect(denied.admitted).toBe(false);
    expect(denied.scope?.kind).toBe('key');
  });

  it('releases reservations on settle and after their TTL, and returns the affinity', () => {
    let now = NOW;
    const affinity = new MemoryAffinityStore({ now: () => now });
    const ledger = new MemoryBudgetLedger({ now: () => now, reservationTtlMillis: 60_000, affinity });
    const scopes = scopesFor(1);
    affinity.set('s1', 'gpt-5.5', 'claude-sonnet', 60);
    const result = ledger.reserve({ requestId: 'lost', scopes, estimateUsd: 1, stages, affinityKey: affinityKeyFor('s1', 'gpt-5.5') });
    expect(result).toMatchObject({ admitted: true, affinity: 'claude-sonnet' });
    expect(ledger.reserve({ requestId: 'x', scopes, estimateUsd: 0.2, stages }).admitted).toBe(false);
    now += 61_000;
    expect(ledger.reserve({ requestId: 'y', scopes, estimateUsd: 0.2, stages })).toMatchObject({ admitted: true, affinity: undefined });
    expect(ledger.snapshot(scopes)[0]).toMatchObject({ spendUsd: 0, reservedUsd: 0.2 });
  });

  it('no budget: admitted without touching state', () => {
    const ledger = new MemoryBudgetLedger();
    expect(ledger.reserve({ requestId: 'a', scopes: [], estimateUsd: 5, stages })).toMatchObject({ admitted: true, stage: 'ok', crossed: [] });
  });
});

describe('MemoryBudgetLedger request ids', () => {
  it('a second reserve under the same request id replaces the first', () => {
    const ledger = new MemoryBudgetLedger({ now: () => NOW });
    const scopes = scopesFor(1);
    ledger.reserve({ requestId: 'same', scopes, estimateUsd: 0.5, stages });
    ledger.reserve({ requestId: 'same', scopes, estimateUsd: 0.3, stages });
    expect(ledger.snapshot(scopes)[0]).toMatchObject({ reservedUsd: 0.3 });
    ledger.settle({ requestId: 'same', scopes, estimateUsd: 0.3, actualUsd: 0.2 });
    expect(ledger.snapshot(scopes)[0]).toMatchObject({ spendUsd: 0.2, reservedUsd: 0 });
  });
});
