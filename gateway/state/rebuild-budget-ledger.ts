import type { ClickHouseClient } from '@clickhouse/client';
import { budgetScopeId, periodBoundsFor, type PeriodBounds } from './budget-periods.ts';
import { FLAG_ALERT, FLAG_DOWNGRADE, FLAG_PAUSE, usdToMicros } from './budget-ledger.ts';

/** What a rebuild needs to know about the policy. */
export interface RebuildOptions {
  /** Cost center → IANA time zone (policy `cost_centers.*.timezone`); others use UTC. */
  timeZones?: Record<string, string> | undefined;
}

export interface RebuildSummary {
  /** Scope ids restored with spend. */
  scopes: number;
  /** Spend restored this month over all cost centers, USD. */
  monthSpendUsd: number;
  /** Scope ids whose alert/downgrade/pause flags were restored from the audit log. */
  flaggedScopes: number;
}

/** The part of the memory ledger a rebuild writes to. */
export interface SeedableLedger {
  seed(scopeId: string, spendMicros: number, flags: number, expiresAt: number): void;
  has(scopeId: string): boolean;
}

const GRACE_MILLIS = 86_400_000;
const FLAG_OF_ACTION: Record<string, number> = { 'budget.alert': FLAG_ALERT, 'budget.downgrade': FLAG_DOWNGRADE, 'budget.pause': FLAG_PAUSE };

interface SpendRow {
  cost_center: string;
  developer: string;
  key_id: string;
  day: string;
  cost: number;
}

function add(totals: Map<string, { usd: number; expiresAt: number }>, id: string, usd: number, expiresAt: number): void {
  const entry = totals.get(id);
  if (entry === undefined) totals.set(id, { usd, expiresAt });
  else entry.usd += usd;
}

async function spendRows(
  client: ClickHouseClient,
  database: string,
  bounds: PeriodBounds,
  costCenters: string[],
  exclude: boolean,
): Promise<SpendRow[]> {
  const filter = costCenters.length === 0 ? '' : `AND cost_center ${exclude ? 'NOT IN' : 'IN'} {centers:Array(String)}`;
  const result = await client.query({
    query: `SELECT cost_center, developer, key_id, toString(toDate(ts, {tz:String})) AS day, sum(cost_usd) AS cost
            FROM ${database}.spans
            WHERE ts >= fromUnixTimestamp64Milli({start:Int64}) AND ts < fromUnixTimestamp64Milli({end:Int64}) ${filter}
            GROUP BY cost_center, developer, key_id, day`,
    query_params: { tz: bounds.timeZone, start: bounds.monthStart, end: bounds.monthEnd, centers: costCenters },
    format: 'JSONEachRow',
  });
  return result.json<SpendRow>();
}

/**
 * Sums `spans.cost_usd` of the current day and month (in each cost center's time zone) per
 * developer, cost center and key id into `ledger`, then restores "already reported" stage flags
 * from this month's `budget.*` audit events whose `subject` is a scope id. One query per
 * distinct time zone, off the request path (start-up).
 */
export async function rebuildLedgerFromClickHouse(
  ledger: SeedableLedger,
  client: ClickHouseClient,
  database: string,
  now: number,
  options: RebuildOptions = {},
): Promise<RebuildSummary> {
  const zones = new Map<string, string[]>();
  for (const [center, zone] of Object.entries(options.timeZones ?? {})) {
    if (zone === 'UTC') continue;
    zones.set(zone, [...(zones.get(zone) ?? []), center]);
  }
  const nonUtcCenters = [...zones.values()].flat();
  const groups: { bounds: PeriodBounds; centers: string[]; exclude: boolean }[] = [
    { bounds: periodBoundsFor('UTC', now), centers: nonUtcCenters, exclude: true },
    ...[...zones].map(([zone, centers]) => ({ bounds: periodBoundsFor(zone, now), centers, exclude: false })),
  ];
  const totals = new Map<string, { usd: number; expiresAt: number }>();
  let monthSpendUsd = 0;
  let earliestStart = now;
  for (const { bounds, centers, exclude } of groups) {
    earliestStart = Math.min(earliestStart, bounds.monthStart);
    const dayExpires = bounds.dayEnd + GRACE_MILLIS;
    const monthExpires = bounds.monthEnd + GRACE_MILLIS;
    for (const row of await spendRows(client, database, bounds, centers, exclude)) {
      const usd = Number(row.cost);
      if (!(usd > 0)) continue;
      monthSpendUsd += usd;
      const subjects = [
        ['developer', row.developer],
        ['cost_center', row.cost_center],
        ['key', row.key_id],
      ] as const;
      for (const [kind, subject] of subjects) {
        if (subject === '') continue;
        add(totals, budgetScopeId(kind, subject, 'monthly', bounds.monthLabel), usd, monthExpires);
        if (row.day === bounds.dayLabel) add(totals, budgetScopeId(kind, subject, 'daily', bounds.dayLabel), usd, dayExpires);
      }
    }
  }
  for (const [id, { usd, expiresAt }] of totals) ledger.seed(id, usdToMicros(usd), 0, expiresAt);

  const flaggedScopes = await restoreStageFlags(ledger, client, database, earliestStart, totals);
  return { scopes: totals.size, monthSpendUsd, flaggedScopes };
}

/** Restores the "already reported" stage flags of this period's scopes from the `budget.*` audit events; returns how many. */
async function restoreStageFlags(ledger: SeedableLedger, client: ClickHouseClient, database: string, earliestStart: number, totals: ReadonlyMap<string, { usd: number; expiresAt: number }>): Promise<number> {
  let flaggedScopes = 0;
  const flagResult = await client.query({
    query: `SELECT subject, groupUniqArray(action) AS actions FROM ${database}.audit_log
            WHERE action IN ('budget.alert', 'budget.downgrade', 'budget.pause') AND ts >= fromUnixTimestamp64Milli({start:Int64})
            GROUP BY subject`,
    query_params: { start: earliestStart },
    format: 'JSONEachRow',
  });
  for (const row of await flagResult.json<{ subject: string; actions: string[] }>()) {
    const entry = totals.get(row.subject);
    if (entry === undefined) continue; // an earlier period's scope
    const flags = row.actions.reduce((bits, action) => bits | (FLAG_OF_ACTION[action] ?? 0), 0);
    if (flags !== 0) {
      ledger.seed(row.subject, 0, flags, entry.expiresAt);
      flaggedScopes++;
    }
  }
  return flaggedScopes;
}
