import { afterEach, describe, expect, it } from 'vitest';
import type { BudgetLedger } from '../../gateway/state/budget-ledger.ts';
import { budgetScopesFor } from '../../gateway/state/budget-periods.ts';
import { createStateRedis } from '../../gateway/state/create-state-redis.ts';
import { MemoryBudgetLedger } from '../../gateway/state/memory-budget-ledger.ts';
import { RedisBudgetLedger } from '../../gateway/state/redis-budget-ledger.ts';
import { deletePrefix, REDIS_URL, uniquePrefix } from './helpers/redis-helpers.ts';

/**
 * Both ledgers price a reservation at the cheaper model once the budget is past its downgrade line,
 * in the same atomic step that reads the stage (one Redis round trip): a $5 budget at 96% admits a
 * turn whose expensive worst case ($0.80) would cross 110% but whose cheaper one ($0.064) does not.
 */

const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const scopes = budgetScopesFor({ developer: 'dana', costCenter: 'band', keyId: 'key_band', policyCostCenter: { budgets: { developer: { daily_usd: 5 } } }, now: Date.now() });

async function redisLedger(): Promise<BudgetLedger> {
  const prefix = uniquePrefix('downgrade-estimate');
  const redis = createStateRedis(REDIS_URL, { commandTimeoutMillis: 5000 });
  const ledger = new RedisBudgetLedger({ redis, keyPrefix: prefix });
  cleanups.push(async () => {
    await ledger.close();
    redis.disconnect();
    await deletePrefix(REDIS_URL, prefix);
  });
  await ledger.ready(5000);
  return ledger;
}

const LEDGERS: [string, () => Promise<BudgetLedger>][] = [
  ['memory (embedded)', async () => new MemoryBudgetLedger()],
  ['redis (distributed)', redisLedger],
];

describe.each(LEDGERS)('%s ledger: the stage decides the price of the reservation', (_name, create) => {
  it('below the downgrade line the requested model is reserved; past it, the cheaper one, until the pause line', async () => {
    const ledger = await create();
    const reserve = (requestId: string) => ledger.reserve({ requestId, scopes, estimateUsd: 0.8, downgradeEstimateUsd: 0.064, stages });
    const ok = await reserve('r-ok');
    expect(ok).toMatchObject({ admitted: true, stage: 'ok' });
    expect((await ledger.snapshot(scopes))[0]?.reservedUsd).toBeCloseTo(0.8, 9);
    await ledger.settle({ requestId: 'r-ok', scopes, estimateUsd: 0.8, actualUsd: 4.8 });

    // 96%: $4.80 + $0.80 would pass $5.50; $4.80 + $0.064 does not.
    const band = await reserve('r-band');
    expect(band).toMatchObject({ admitted: true, stage: 'downgrade' });
    expect((await ledger.snapshot(scopes))[0]?.reservedUsd).toBeCloseTo(0.064, 9);
    await ledger.settle({ requestId: 'r-band', scopes, estimateUsd: 0.064, actualUsd: 0.64 });

    // $5.44 + $0.064 > $5.50: now the pause line, with the cheaper model's worst case.
    const paused = await reserve('r-pause');
    expect(paused).toMatchObject({ admitted: false, stage: 'pause' });
  });

  it('without a downgrade target the requested model is reserved at every stage', async () => {
    const ledger = await create();
    await ledger.reserve({ requestId: 'p', scopes, estimateUsd: 0, stages });
    await ledger.settle({ requestId: 'p', scopes, estimateUsd: 0, actualUsd: 4.8 });
    expect(await ledger.reserve({ requestId: 'q', scopes, estimateUsd: 0.8, stages })).toMatchObject({ admitted: false, stage: 'pause' });
  });
});
