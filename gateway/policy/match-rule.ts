import type { RoutingRule } from '../../shared/policy/policy-schema.ts';

/** Local time facts of a request in its cost center's time zone. */
export interface RuleClock {
  /** 0–23 */
  hour: number;
  /** mon … sun */
  day: 'mon' | 'tue' | 'wed' | 'thu' | 'fri' | 'sat' | 'sun';
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const formatterCache = new Map<string, Intl.DateTimeFormat>();

/** Hour and weekday of `instant` in an IANA time zone (formatters cached: this runs per request). */
export function clockIn(timeZone: string, instant: Date): RuleClock {
  if (timeZone === 'UTC') return { hour: instant.getUTCHours(), day: DAYS[instant.getUTCDay()] ?? 'mon' };
  let formatter = formatterCache.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23', weekday: 'short' });
    formatterCache.set(timeZone, formatter);
  }
  let hour = 0;
  let day: RuleClock['day'] = 'mon';
  for (const part of formatter.formatToParts(instant)) {
    if (part.type === 'hour') hour = Number(part.value) % 24;
    else if (part.type === 'weekday') day = part.value.slice(0, 3).toLowerCase() as RuleClock['day'];
  }
  return { hour, day };
}

export interface RuleFacts {
  requestedModel: string;
  inputTokenEstimate: number;
  clock: RuleClock;
  budgetStage: string;
  tags: string[];
}

/** Whether every condition of the rule holds (absent conditions hold). */
export function ruleMatches(rule: RoutingRule, facts: RuleFacts): boolean {
  const when = rule.when;
  if (when.requested_models && !when.requested_models.includes(facts.requestedModel)) return false;
  if (when.input_tokens) {
    if (when.input_tokens.min !== undefined && facts.inputTokenEstimate < when.input_tokens.min) return false;
    if (when.input_tokens.max !== undefined && facts.inputTokenEstimate > when.input_tokens.max) return false;
  }
  if (when.hours) {
    const [start, end] = when.hours;
    const inside = start <= end ? facts.clock.hour >= start && facts.clock.hour < end : facts.clock.hour >= start || facts.clock.hour < end;
    if (!inside) return false;
  }
  if (when.days && !when.days.includes(facts.clock.day)) return false;
  if (when.budget_stages && !when.budget_stages.includes(facts.budgetStage as 'ok')) return false;
  if (when.developer_tags && !when.developer_tags.some((tag) => facts.tags.includes(tag))) return false;
  return true;
}
