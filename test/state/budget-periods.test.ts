import { describe, expect, it } from 'vitest';
import { budgetScopeId, budgetScopesFor, isValidTimeZone, periodBoundsFor } from '../../gateway/state/budget-periods.ts';

const center = (timezone: string) => ({
  timezone,
  budgets: { developer: { daily_usd: 10, monthly_usd: 100 }, cost_center: { monthly_usd: 5000 } },
});

describe('budgetScopesFor', () => {
  it('builds developer, cost center and key scopes for the current UTC periods', () => {
    const scopes = budgetScopesFor({
      developer: 'alice',
      costCenter: 'platform',
      keyId: 'key_1',
      keyBudgets: { daily_usd: 3 },
      policyCostCenter: center('UTC'),
      now: Date.parse('2026-11-28T23:59:59.999Z'),
    });
    expect(scopes.map((scope) => [scope.id, scope.kind, scope.period, scope.limitUsd, scope.resetsAt.toISOString()])).toEqual([
      ['dev:alice:daily:2026-11-28', 'developer', 'daily', 10, '2026-11-29T00:00:00.000Z'],
      ['dev:alice:monthly:2026-11', 'developer', 'monthly', 100, '2026-12-01T00:00:00.000Z'],
      ['cc:platform:monthly:2026-11', 'cost_center', 'monthly', 5000, '2026-12-01T00:00:00.000Z'],
      ['key:key_1:daily:2026-11-28', 'key', 'daily', 3, '2026-11-29T00:00:00.000Z'],
    ]);
    expect(scopes[0]!.startsAt.toISOString()).toBe('2026-11-28T00:00:00.000Z');
  });

  it('returns no scope when no budget is configured', () => {
    expect(budgetScopesFor({ developer: 'a', costCenter: 'b', keyId: 'k', policyCostCenter: { budgets: {} }, now: 0 })).toEqual([]);
  });

  it('uses the cost center time zone: a UTC instant can be on the next local day', () => {
    const now = Date.parse('2026-11-28T20:00:00Z'); // 2026-11-29 07:00 in Sydney (UTC+11)
    const [daily, monthly] = budgetScopesFor({ developer: 'bob', costCenter: 'au', keyId: 'k', policyCostCenter: center('Australia/Sydney'), now });
    expect(daily!.id).toBe('dev:bob:daily:2026-11-29');
    expect(daily!.startsAt.toISOString()).toBe('2026-11-28T13:00:00.000Z');
    expect(daily!.resetsAt.toISOString()).toBe('2026-11-29T13:00:00.000Z');
    expect(monthly!.resetsAt.toISOString()).toBe('2026-11-30T13:00:00.000Z');
  });

  it('handles DST: a 23-hour day in New York and a day whose local midnight does not exist', () => {
    const spring = periodBoundsFor('America/New_York', Date.parse('2026-03-08T12:00:00Z'));
    expect(spring.dayLabel).toBe('2026-03-08');
    expect(new Date(spring.dayStart).toISOString()).toBe('2026-03-08T05:00:00.000Z');
    expect(spring.dayEnd - spring.dayStart).toBe(23 * 3_600_000);
    // Santiago starts DST at 00:00 local on 2026-09-06: the day starts at 01:00 local = 04:00Z.
    const santiago = periodBoundsFor('America/Santiago', Date.parse('2026-09-06T12:00:00Z'));
    expect(santiago.dayLabel).toBe('2026-09-06');
    expect(new Date(santiago.dayStart).toISOString()).toBe('2026-09-06T04:00:00.000Z');
    const kathmandu = periodBoundsFor('Asia/Kathmandu', Date.parse('2026-12-31T18:20:00Z'));
    expect(kathmandu.dayLabel).toBe('2027-01-01');
    expect(kathmandu.monthLabel).toBe('2027-01');
    expect(new Date(kathmandu.monthStart).toISOString()).toBe('2026-12-31T18:15:00.000Z');
    expect(new Date(kathmandu.monthEnd).toISOString()).toBe('2027-01-31T18:15:00.000Z');
  });

  it('moves to the next period exactly at the boundary, and falls back to UTC for unknown zones', () => {
    const before = periodBoundsFor('Europe/Berlin', Date.parse('2026-11-28T22:59:59.999Z'));
    const after = periodBoundsFor('Europe/Berlin', Date.parse('2026-11-28T23:00:00.000Z'));
    expect(before.dayLabel).toBe('2026-11-28');
    expect(after.dayLabel).toBe('2026-11-29');
    expect(isValidTimeZone('Not/AZone')).toBe(false);
    expect(periodBoundsFor('Not/AZone', Date.parse('2026-11-28T23:30:00Z')).dayLabel).toBe('2026-11-28');
  });

  it('escapes separators in subjects so ids stay unambiguous', () => {
    expect(budgetScopeId('developer', 'a:b%c', 'daily', '2026-01-01')).toBe('dev:a%3Ab%25c:daily:2026-01-01');
  });
});
