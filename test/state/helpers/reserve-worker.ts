// Child process of the two-process budget test: its own ioredis client, its own ledger, the same Redis.
import { createStateRedis } from '../../../gateway/state/create-state-redis.ts';
import { RedisBudgetLedger } from '../../../gateway/state/redis-budget-ledger.ts';
import { budgetScopesFor } from '../../../gateway/state/budget-periods.ts';

const { REDIS_URL, PREFIX, COUNT, START_AT, NAME } = process.env;
const redis = createStateRedis(REDIS_URL ?? '', { commandTimeoutMillis: 5000 });
const ledger = new RedisBudgetLedger({ redis, keyPrefix: PREFIX ?? '' });
await ledger.ready(5000);
const scopes = budgetScopesFor({
  developer: 'alice',
  costCenter: 'platform',
  keyId: 'key_1',
  policyCostCenter: { budgets: { developer: { daily_usd: 1 } } },
  now: Date.now(),
});
const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(START_AT) - Date.now())));
const outcomes = await Promise.all(
  Array.from({ length: Number(COUNT) }, async (_, index) => {
    const requestId = `${NAME}-${index}`;
    const result = await ledger.reserve({ requestId, scopes, estimateUsd: 0.1, stages });
    if (!result.admitted) return { admitted: false, degraded: result.degraded === true, crossed: result.crossed.map((c) => c.stage) };
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 20));
    await ledger.settle({ requestId, scopes, estimateUsd: 0.1, actualUsd: 0.1 });
    return { admitted: true, degraded: result.degraded === true, crossed: result.crossed.map((c) => c.stage) };
  }),
);
process.stdout.write(JSON.stringify(outcomes));
await ledger.close();
redis.disconnect();
