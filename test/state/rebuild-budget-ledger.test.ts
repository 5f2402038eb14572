import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { budgetScopesFor } from '../../gateway/state/budget-periods.ts';
import { MemoryBudgetLedger } from '../../gateway/state/memory-budget-ledger.ts';

const database = 'gatehouse_rebuild';
let dataDir: string;
let client: ClickHouseClient;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-rebuild-'));
  client = await createClickHouse({ url: 'embedded', database, dataDir });
  await migrate(client, database);
});

afterAll(async () => {
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
const NOW = Date.parse('2026-11-28T10:00:00Z');
const platform = { budgets: { developer: { daily_usd: 10, monthly_usd: 200 }, cost_center: { daily_usd: 50, monthly_usd: 1000 } } };
const sydney = { ...platform, timezone: 'Australia/Sydney' };

function span(ts: string, developer: string, costCenter: string, keyId: string, cost: number, requestId: string) {
  return { ts, request_id: requestId, developer, cost_center: costCenter, key_id: keyId, session_id: `s-${developer}`, cost_usd: cost };
}

describe('MemoryBudgetLedger.rebuildFromClickHouse', () => {
  it('a restart loses no spend: a new ledger rebuilt from spans equals the old one', async () => {
    const before = new MemoryBudgetLedger({ now: () => NOW });
    const scopes = budgetScopesFor({ developer: 'alice', costCenter: 'platform', keyId: 'k_alice', keyBudgets: { daily_usd: 4.5 }, policyCostCenter: platform, now: NOW });
    const rows = [];
    for (let index = 0; index < 7; index++) {
      const actual = 0.25 + index * 0.125;
      const requestId = `live-${index}`;
      expect(before.reserve({ requestId, scopes, estimateUsd: 1, stages }).admitted).toBe(true);
      before.settle({ requestId, scopes, estimateUsd: 1, actualUsd: actual });
      rows.push(span(new Date(NOW - index * 60_000).toISOString(), 'alice', 'platform', 'k_alice', actual, requestId));
    }
    // Earlier this month (monthly only), last month (nothing) and another developer in a Sydney cost center.
    rows.push(span('2026-11-02T08:00:00.000Z', 'alice', 'platform', 'k_alice', 20, 'old-1'));
    rows.push(span('2026-10-31T23:59:59.000Z', 'alice', 'platform', 'k_alice', 99, 'last-month'));
    rows.push(span('2026-11-27T14:00:00.000Z', 'bob', 'au', 'k_bob', 3, 'au-1')); // 2026-11-28 01:00 in Sydney: today there
    rows.push(span('2026-11-27T12:00:00.000Z', 'bob', 'au', 'k_bob', 2, 'au-2')); // 2026-11-27 23:00 in Sydney: yesterday
    await client.insert({ table: `${database}.spans`, values: rows, format: 'JSONEachRow' });
    await client.insert({
      table: `${database}.audit_log`,
      values: [{ ts: '2026-11-28T09:00:00.000Z', seq: 1, actor: 'system', action: 'budget.alert', subject: 'key:k_alice:daily:2026-11-28', cost_center: 'platform', details: '{}' }],
      format: 'JSONEachRow',
    });

    const after = new MemoryBudgetLedger({ now: () => NOW });
    const summary = await after.rebuildFromClickHouse(client, database, NOW, { timeZones: { au: 'Australia/Sydney' } });
    expect(summary.flaggedScopes).toBe(1);
    expect(summary.monthSpendUsd).toBeCloseTo(4.375 + 20 + 5, 9);
    const todaySpend = 0.25 * 7 + 0.125 * 21;
    const expected = before.snapshot(scopes);
    expect(expected[0]!.spendUsd).toBeCloseTo(todaySpend, 9);
    const rebuilt = after.snapshot(scopes);
    const byId = Object.fromEntries(rebuilt.map((snapshot) => [snapshot.scopeId, snapshot.spendUsd]));
    expect(byId['dev:alice:daily:2026-11-28']).toBeCloseTo(todaySpend, 6);
    expect(byId['dev:alice:monthly:2026-11']).toBeCloseTo(todaySpend + 20, 6);
    expect(byId['cc:platform:daily:2026-11-28']).toBeCloseTo(todaySpend, 6);
    expect(byId['key:k_alice:daily:2026-11-28']).toBeCloseTo(todaySpend, 6);
    const bobScopes = budgetScopesFor({ developer: 'bob', costCenter: 'au', keyId: 'k_bob', policyCostCenter: sydney, now: NOW });
    const bob = Object.fromEntries(after.snapshot(bobScopes).map((snapshot) => [snapshot.scopeId, snapshot.spendUsd]));
    expect(bob).toEqual({ 'dev:bob:daily:2026-11-28': 3, 'dev:bob:monthly:2026-11': 5, 'cc:au:daily:2026-11-28': 3, 'cc:au:monthly:2026-11': 5 });
    // The alert already sent before the restart is not sent again; downgrade still would be.
    const keyOnly = scopes.filter((scope) => scope.kind === 'key');
    const result = after.reserve({ requestId: 'next', scopes: keyOnly, estimateUsd: 0.01, stages });
    expect(result).toMatchObject({ admitted: true, stage: 'downgrade' });
    expect(result.crossed.map((crossing) => crossing.stage)).toEqual(['downgrade']);
  });
});
