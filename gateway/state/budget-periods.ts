import type { BudgetPair, CostCenter } from '../../shared/policy/policy-schema.ts';

/** Who a budget applies to. */
export type BudgetKind = 'developer' | 'cost_center' | 'key';
/** Budget periods, each in the cost center's IANA time zone. */
export type BudgetPeriod = 'daily' | 'monthly';

/**
 * One budget that applies to a request, for the period that contains `now`.
 * `id` names the budget *and* its period (`cc:platform:daily:2026-11-28`), so counters and
 * "alert already sent" flags reset by construction when a new period starts.
 */
export interface BudgetScope {
  /** `<dev|cc|key>:<subject>:<daily|monthly>:<YYYY-MM-DD|YYYY-MM>`; `:` and `%` in subjects are %-escaped. */
  id: string;
  kind: BudgetKind;
  period: BudgetPeriod;
  /** Developer name, cost center name or key id. */
  subject: string;
  limitUsd: number;
  /** First instant of the period. */
  startsAt: Date;
  /** First instant of the next period (when the budget resets). */
  resetsAt: Date;
  /** IANA time zone the period is computed in. */
  timeZone: string;
}

export interface BudgetScopesInput {
  developer: string;
  costCenter: string;
  keyId: string;
  /** Per-key budgets (virtual key record), if any. */
  keyBudgets?: BudgetPair | undefined;
  /** The cost center's policy (budgets, timezone). */
  policyCostCenter: Pick<CostCenter, 'budgets'> & { timezone?: string | undefined };
  /** Milliseconds since epoch or a Date. */
  now: number | Date;
}

/** Boundaries of the current day and month in one time zone. */
export interface PeriodBounds {
  timeZone: string;
  dayLabel: string;
  dayStart: number;
  dayEnd: number;
  monthLabel: string;
  monthStart: number;
  monthEnd: number;
}

const HOUR = 3_600_000;
const formatters = new Map<string, Intl.DateTimeFormat>();
const boundsCache = new Map<string, PeriodBounds>();
const validZones = new Map<string, boolean>();

/** True when `timeZone` is an IANA zone this runtime knows (validate policies with it at load time). */
export function isValidTimeZone(timeZone: string): boolean {
  let valid = validZones.get(timeZone);
  if (valid === undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone });
      valid = true;
    } catch {
      valid = false;
    }
    validZones.set(timeZone, valid);
  }
  return valid;
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: 'numeric', day: 'numeric' });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** Local calendar date at instant `t`, as the sortable number YYYYMMDD. */
function localDateKey(formatter: Intl.DateTimeFormat, t: number): number {
  let year = 0;
  let month = 0;
  let day = 0;
  for (const part of formatter.formatToParts(t)) {
    if (part.type === 'year') year = Number(part.value);
    else if (part.type === 'month') month = Number(part.value);
    else if (part.type === 'day') day = Number(part.value);
  }
  return year * 10_000 + month * 100 + day;
}

/**
 * First instant whose local date is on or after (year, month, day). A binary search instead of
 * "UTC midnight minus offset" because it stays right where local midnight does not exist
 * (zones that start DST at 00:00, e.g. America/Santiago, Asia/Beirut): the day then starts at
 * the transition. Offsets lie within [-12h, +14h], so the search window of ±16 h brackets it.
 */
function startOfLocalDate(formatter: Intl.DateTimeFormat, year: number, monthIndex: number, day: number): number {
  const utcMidnight = Date.UTC(year, monthIndex, day);
  const normalized = new Date(utcMidnight);
  const target = normalized.getUTCFullYear() * 10_000 + (normalized.getUTCMonth() + 1) * 100 + normalized.getUTCDate();
  let low = utcMidnight - 16 * HOUR; // local date before target
  let high = utcMidnight + 16 * HOUR; // local date on/after target
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (localDateKey(formatter, middle) >= target) high = middle;
    else low = middle;
  }
  return high;
}

function pad(value: number): string {
  return value < 10 ? `0${value}` : String(value);
}

function computeBounds(timeZone: string, now: number): PeriodBounds {
  const formatter = formatterFor(timeZone);
  const key = localDateKey(formatter, now);
  const year = Math.floor(key / 10_000);
  const month = Math.floor(key / 100) % 100;
  const day = key % 100;
  return {
    timeZone,
    dayLabel: `${year}-${pad(month)}-${pad(day)}`,
    dayStart: startOfLocalDate(formatter, year, month - 1, day),
    dayEnd: startOfLocalDate(formatter, year, month - 1, day + 1),
    monthLabel: `${year}-${pad(month)}`,
    monthStart: startOfLocalDate(formatter, year, month - 1, 1),
    monthEnd: startOfLocalDate(formatter, year, month, 1),
  };
}

/**
 * Current day and month boundaries in `timeZone` (unknown zones fall back to UTC; validate with
 * {@link isValidTimeZone} when loading a policy). Cached per zone until the day ends, so the
 * per-request cost is a Map lookup and two comparisons.
 */
export function periodBoundsFor(timeZone: string, now: number): PeriodBounds {
  const cached = boundsCache.get(timeZone);
  if (cached !== undefined && now >= cached.dayStart && now < cached.dayEnd) return cached;
  const zone = isValidTimeZone(timeZone) ? timeZone : 'UTC';
  const bounds = computeBounds(zone, now);
  // Only cache the current period; a lookup for another instant (tests, rebuilds) must not evict it.
  if (cached === undefined || now >= cached.dayEnd) boundsCache.set(timeZone, bounds);
  return bounds;
}

function escapeSubject(subject: string): string {
  return subject.includes(':') || subject.includes('%') ? subject.replaceAll('%', '%25').replaceAll(':', '%3A') : subject;
}

const KIND_PREFIX: Record<BudgetKind, string> = { developer: 'dev', cost_center: 'cc', key: 'key' };

/** The scope id of a budget: `<dev|cc|key>:<subject>:<period>:<label>`. */
export function budgetScopeId(kind: BudgetKind, subject: string, period: BudgetPeriod, label: string): string {
  return `${KIND_PREFIX[kind]}:${escapeSubject(subject)}:${period}:${label}`;
}

function pushPair(
  scopes: BudgetScope[],
  kind: BudgetKind,
  subject: string,
  pair: BudgetPair | undefined,
  bounds: PeriodBounds,
): void {
  if (pair === undefined) return;
  if (pair.daily_usd !== undefined && pair.daily_usd > 0) {
    scopes.push({
      id: budgetScopeId(kind, subject, 'daily', bounds.dayLabel),
      kind,
      period: 'daily',
      subject,
      limitUsd: pair.daily_usd,
      startsAt: new Date(bounds.dayStart),
      resetsAt: new Date(bounds.dayEnd),
      timeZone: bounds.timeZone,
    });
  }
  if (pair.monthly_usd !== undefined && pair.monthly_usd > 0) {
    scopes.push({
      id: budgetScopeId(kind, subject, 'monthly', bounds.monthLabel),
      kind,
      period: 'monthly',
      subject,
      limitUsd: pair.monthly_usd,
      startsAt: new Date(bounds.monthStart),
      resetsAt: new Date(bounds.monthEnd),
      timeZone: bounds.timeZone,
    });
  }
}

/**
 * Every budget that applies to a request: the developer's and the cost center's budgets from the
 * cost center's policy, and the key's own budgets, each daily and/or monthly in the cost center's
 * time zone. Budgets that are not configured produce no scope (an empty array = no budget).
 */
export function budgetScopesFor(input: BudgetScopesInput): BudgetScope[] {
  const now = typeof input.now === 'number' ? input.now : input.now.getTime();
  const bounds = periodBoundsFor(input.policyCostCenter.timezone ?? 'UTC', now);
  const scopes: BudgetScope[] = [];
  const budgets = input.policyCostCenter.budgets;
  pushPair(scopes, 'developer', input.developer, budgets.developer, bounds);
  pushPair(scopes, 'cost_center', input.costCenter, budgets.cost_center, bounds);
  pushPair(scopes, 'key', input.keyId, input.keyBudgets, bounds);
  return scopes;
}
