import { describe, expect, it } from 'vitest';
import { budgetExhaustedError } from '../../gateway/state/budget-errors.ts';
import { MemoryBudgetLedger } from '../../gateway/state/memory-budget-ledger.ts';
import { budgetScopesFor } from '../../gateway/state/budget-periods.ts';

describe('budgetExhaustedError', () => {
  it('names the budget, the spend and when it resets in the cost center time zone', () => {
    const now = Date.parse('2026-11-28T10:00:00Z');
    const scopes = budgetScopesFor({
      developer: 'alice',
      costCenter: 'platform',
      keyId: 'k',
      policyCostCenter: { timezone: 'Europe/Berlin', budgets: { developer: { daily_usd: 10 } } },
      now,
    });
    const ledger = new MemoryBudgetLedger({ now: () => now });
    const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
    ledger.reserve({ requestId: 'a', scopes, estimateUsd: 11, stages });
    ledger.settle({ requestId: 'a', scopes, estimateUsd: 11, actualUsd: 11 });
    const denial = ledger.reserve({ requestId: 'b', scopes, estimateUsd: 0.1, stages });
    if (denial.admitted) throw new Error('expected a denial');
    const error = budgetExhaustedError(denial, { costCenter: 'platform', pause: 1.1 });
    expect(error).toMatchObject({ code: 'budget_exhausted', status: 429, retryAfterMillis: undefined });
    expect(error.message).toBe(
      'gatehouse: the daily budget of developer alice (cost center platform) is exhausted: $11.00 spent of $10.00 (requests pause at 110%); it resets 29 Nov 2026, 00:00 CET',
    );
  });
});
