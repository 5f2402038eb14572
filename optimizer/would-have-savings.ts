import type { ClickHouseClient } from '@clickhouse/client';
import type { PolicyDocument, RoutingRule } from '../shared/policy/policy-schema.ts';
import type { SpanRow } from '../shared/telemetry/turn-record.ts';
import { wouldHaveSavingsQuery } from './optimizer-queries.ts';
import { DAYS_PER_MONTH, costOfTokens, parseSpanTimestamp } from './segment-aggregate.ts';
import { policyModelPrice } from '../shared/pricing/model-catalog.ts';

/** Tokens and cost of the turns a dry-run rule matched, per model that actually served them. */
export interface DryRunTokens {
  servedModel: string;
  turns: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** What a rule in dry-run would have saved on the traffic it matched (warm-up evidence). */
export interface WouldHaveSavings {
  ruleId: string;
  routeTo: string;
  turns: number;
  /** What the matched turns cost (spans' `cost_usd`). */
  observedCostUsd: number;
  /** The same tokens at the rule's target price. */
  wouldHaveCostUsd: number;
  savingUsd: number;
  /** Calendar days from the first to the last matched turn. */
  observedDays: number;
  monthlySavingUsd: number;
  byServedModel: (DryRunTokens & { wouldHaveCostUsd: number })[];
}

/** Prices dry-run matches at the rule's target (pure). */
export function priceWouldHaveSavings(rows: readonly DryRunTokens[], rule: RoutingRule, policy: PolicyDocument, observedDays: number): WouldHaveSavings {
  const targetPrice = policyModelPrice(policy.models, rule.route_to);
  if (!targetPrice) throw new Error(`rule ${rule.id} routes to "${rule.route_to}", which the policy does not define`);
  const byServedModel = rows.map((row) => ({ ...row, wouldHaveCostUsd: costOfTokens(targetPrice, row.inputTokens, row.cachedInputTokens, row.outputTokens) }));
  const observedCostUsd = byServedModel.reduce((total, row) => total + row.costUsd, 0);
  const wouldHaveCostUsd = byServedModel.reduce((total, row) => total + row.wouldHaveCostUsd, 0);
  const savingUsd = observedCostUsd - wouldHaveCostUsd;
  return {
    ruleId: rule.id,
    routeTo: rule.route_to,
    turns: byServedModel.reduce((total, row) => total + row.turns, 0),
    observedCostUsd,
    wouldHaveCostUsd,
    savingUsd,
    observedDays,
    monthlySavingUsd: observedDays > 0 ? (savingUsd * DAYS_PER_MONTH) / observedDays : 0,
    byServedModel,
  };
}

/** In-memory twin of the SQL path, for span rows at hand (tests, the bench). */
export function wouldHaveSavingsFromSpans(spans: readonly SpanRow[], rule: RoutingRule, policy: PolicyDocument): WouldHaveSavings {
  const rows = new Map<string, DryRunTokens>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  for (const span of spans) {
    if (span.rule_id !== rule.id || !span.rule_dry_run || span.status_code >= 400) continue;
    const row = rows.get(span.served_model) ?? { servedModel: span.served_model, turns: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costUsd: 0 };
    row.turns += 1;
    row.inputTokens += span.input_tokens;
    row.cachedInputTokens += span.cached_input_tokens;
    row.outputTokens += span.output_tokens;
    row.costUsd += span.cost_usd;
    rows.set(span.served_model, row);
    const day = Math.floor(parseSpanTimestamp(span.ts) / 86_400_000);
    first = Math.min(first, day);
    last = Math.max(last, day);
  }
  const ordered = [...rows.values()].sort((a, b) => (a.servedModel < b.servedModel ? -1 : 1));
  return priceWouldHaveSavings(ordered, rule, policy, ordered.length > 0 ? last - first + 1 : 0);
}

export interface ComputeWouldHaveSavingsInput {
  clickhouse: ClickHouseClient;
  database: string;
  policy: PolicyDocument;
  /** The rule in dry-run; its `id` is what the gateway wrote on `spans.rule_id`. */
  rule: RoutingRule;
  /** @defaultValue 28 days before `until` */
  since?: Date | undefined;
  /** @defaultValue now */
  until?: Date | undefined;
}

/** Observed would-have savings of a dry-run rule, from the spans the gateway tagged with it. */
export async function computeWouldHaveSavings(input: ComputeWouldHaveSavingsInput): Promise<WouldHaveSavings> {
  const until = input.until ?? new Date();
  const since = input.since ?? new Date(until.getTime() - 28 * 86_400_000);
  const result = await input.clickhouse.query({ ...wouldHaveSavingsQuery({ database: input.database, ruleId: input.rule.id, since, until }), format: 'JSONEachRow' });
  const rows = await result.json<Record<string, string | number>>();
  let first = Number.POSITIVE_INFINITY;
  let last = Number.NEGATIVE_INFINITY;
  const tokens: DryRunTokens[] = rows.map((row) => {
    first = Math.min(first, Math.floor(parseSpanTimestamp(String(row.first_ts)) / 86_400_000));
    last = Math.max(last, Math.floor(parseSpanTimestamp(String(row.last_ts)) / 86_400_000));
    return {
      servedModel: String(row.served_model),
      turns: Number(row.turns),
      inputTokens: Number(row.input_tokens),
      cachedInputTokens: Number(row.cached_input_tokens),
      outputTokens: Number(row.output_tokens),
      costUsd: Number(row.cost_usd),
    };
  });
  return priceWouldHaveSavings(tokens, input.rule, input.policy, tokens.length > 0 ? last - first + 1 : 0);
}
