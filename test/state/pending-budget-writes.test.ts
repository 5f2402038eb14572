import { describe, expect, it } from 'vitest';
import { budgetScopesFor } from '../../gateway/state/budget-periods.ts';
import { PendingBudgetWrites } from '../../gateway/state/pending-budget-writes.ts';

const [scope] = budgetScopesFor({ developer: 'pat', costCenter: 'platform', keyId: 'key_1', policyCostCenter: { budgets: { developer: { daily_usd: 10 } } }, now: Date.UTC(2026, 11, 7, 12) });

describe('PendingBudgetWrites: what a replica still owes Redis', () => {
  it('counts a replay\'s batch as owed until each entry is acknowledged, and merges what it gives back', () => {
    const pending = new PendingBudgetWrites();
    pending.add(scope!, 1_250_000, 0);
    pending.addRelease('reservation:busy');
    const batch = pending.take();
    expect(batch).toBeDefined();
    // Being written is not written: a metric, a snapshot's fallback or a test waiting for "nothing pending" sees it.
    expect({ scopes: pending.scopeCount, releases: pending.releaseCount, amount: pending.amountOf(scope!.id) }).toEqual({ scopes: 1, releases: 1, amount: 1_250_000 });
    // Spend settled meanwhile collects afresh, and the same scope is counted once.
    pending.add(scope!, 500_000, 0);
    expect({ scopes: pending.scopeCount, amount: pending.amountOf(scope!.id) }).toEqual({ scopes: 1, amount: 1_750_000 });

    batch!.releases.delete('reservation:busy'); // acknowledged
    expect(pending.releaseCount).toBe(0);
    pending.putBack(batch!); // the scope's write failed: back, merged with the newer spend
    expect({ scopes: pending.scopeCount, amount: pending.amountOf(scope!.id) }).toEqual({ scopes: 1, amount: 1_750_000 });

    const second = pending.take();
    second!.scopes.delete(scope!.id);
    expect(pending.scopeCount).toBe(0);
    pending.putBack(second!);
    expect({ scopes: pending.scopeCount, releases: pending.releaseCount, amount: pending.amountOf(scope!.id) }).toEqual({ scopes: 0, releases: 0, amount: 0 });
    expect(pending.take()).toBeUndefined();
  });
});
