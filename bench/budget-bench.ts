import { pathToFileURL } from 'node:url';
import { budgetScopesFor } from '../gateway/state/budget-periods.ts';
import { MemoryBudgetLedger } from '../gateway/state/memory-budget-ledger.ts';
import { RedisBudgetLedger } from '../gateway/state/redis-budget-ledger.ts';
import { createStateRedis } from '../gateway/state/create-state-redis.ts';
import type { BudgetLedger } from '../gateway/state/budget-ledger.ts';

/** Latency distribution of one phase, microseconds. */
export interface PhaseStats {
  p50Micros: number;
  p90Micros: number;
  p99Micros: number;
  meanMicros: number;
}

export interface LedgerBenchResult {
  iterations: number;
  /** budgetScopesFor + reserve: what a request pays before the upstream call. */
  beforeUpstream: PhaseStats;
  /** settle: paid after the response, off the client's critical path. */
  settle: PhaseStats;
}

export interface BudgetBenchResult {
  memory: LedgerBenchResult;
  /** Present when a Redis URL was given and reachable. */
  redis?: LedgerBenchResult | undefined;
}

export interface BudgetBenchOptions {
  /** @defaultValue 50000 */
  memoryIterations?: number;
  /** @defaultValue 2000 */
  redisIterations?: number;
  /** Redis to measure against; a unique key prefix is used and deleted afterwards. */
  redisUrl?: string | undefined;
}

const stages = { alert: 0.8, downgrade: 0.95, pause: 1.1 };
const costCenter = {
  timezone: 'Europe/Berlin',
  budgets: { developer: { daily_usd: 1e9, monthly_usd: 1e9 }, cost_center: { daily_usd: 1e9, monthly_usd: 1e9 } },
};

function stats(samples: number[]): PhaseStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const round = (value: number) => Math.round(value * 1000) / 1000;
  return {
    p50Micros: round(at(0.5)),
    p90Micros: round(at(0.9)),
    p99Micros: round(at(0.99)),
    meanMicros: round(sorted.reduce((sum, value) => sum + value, 0) / Math.max(1, sorted.length)),
  };
}

/** Six scopes per request (developer, cost center and key; daily and monthly), like a fully budgeted key. */
async function measure(ledger: BudgetLedger, iterations: number, warmup: number): Promise<LedgerBenchResult> {
  const before: number[] = [];
  const after: number[] = [];
  for (let index = 0; index < warmup + iterations; index++) {
    const requestId = `bench-${index}`;
    const start = process.hrtime.bigint();
    const scopes = budgetScopesFor({
      developer: `dev-${index % 1000}`,
      costCenter: 'platform',
      keyId: `key-${index % 1000}`,
      keyBudgets: { daily_usd: 1e9, monthly_usd: 1e9 },
      policyCostCenter: costCenter,
      now: Date.now(),
    });
    const reserved = ledger.reserve({ requestId, scopes, estimateUsd: 0.05, stages });
    if (reserved instanceof Promise) await reserved;
    const middle = process.hrtime.bigint();
    const settled = ledger.settle({ requestId, scopes, estimateUsd: 0.05, actualUsd: 0.01 });
    if (settled instanceof Promise) await settled;
    const end = process.hrtime.bigint();
    if (index >= warmup) {
      before.push(Number(middle - start) / 1000);
      after.push(Number(end - middle) / 1000);
    }
  }
  return { iterations, beforeUpstream: stats(before), settle: stats(after) };
}

/** Measures the budget check's own cost per request, embedded (memory) and distributed (Redis). */
export async function runBudgetBench(options: BudgetBenchOptions = {}): Promise<BudgetBenchResult> {
  const memoryIterations = options.memoryIterations ?? 50_000;
  const memory = await measure(new MemoryBudgetLedger(), memoryIterations, Math.min(10_000, memoryIterations));
  if (options.redisUrl === undefined) return { memory };
  const redis = createStateRedis(options.redisUrl, { commandTimeoutMillis: 2000 });
  const prefix = `gatehouse-bench:${process.pid}:${Date.now()}:`;
  const ledger = new RedisBudgetLedger({ redis, keyPrefix: prefix });
  try {
    await ledger.ready(2000);
    if (redis.status !== 'ready') return { memory };
    const result = await measure(ledger, options.redisIterations ?? 2000, 200);
    if (ledger.stats().degradedReserves > 0) throw new Error('Redis went away during the benchmark');
    return { memory, redis: result };
  } finally {
    await ledger.close();
    if (redis.status === 'ready') {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    }
    redis.disconnect();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = await runBudgetBench({ redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
}
