import type { ClickHouseClient } from '@clickhouse/client';
import type { PolicyDocument } from '../shared/policy/policy-schema.ts';
import { optimizeSegments, type OptimizeOptions, type OptimizerProgress } from './optimize-segments.ts';
import { observedDaysQuery, segmentAggregatesQuery } from './optimizer-queries.ts';
import type { OptimizerResult } from './proposal.ts';
import { compareSegments, type DayType, type SegmentAggregate } from './segment-aggregate.ts';
import { sessionOutcomeOf, sessionOutcomesQuery, type SessionOutcome } from './session-outcomes.ts';
import { optimizerSettingsOf } from '../shared/policy/optimizer-settings.ts';

/** How far back the optimizer looks by default. */
export const DEFAULT_LOOKBACK_DAYS = 28;

export interface ReadAggregatesInput {
  clickhouse: ClickHouseClient;
  database: string;
  policy: PolicyDocument;
  /** @defaultValue now − {@link DEFAULT_LOOKBACK_DAYS} days */
  since?: Date | undefined;
  /** @defaultValue now */
  until?: Date | undefined;
}

interface AggregateRow {
  cost_center: string;
  requested_model: string;
  served_model: string;
  input_token_bucket: number | string;
  hour: number | string;
  day_type: string;
  turns: number | string;
  input_tokens: number | string;
  cached_input_tokens: number | string;
  output_tokens: number | string;
  cost_usd: number | string;
  scored_turns: number | string;
  quality_sum: number | string;
  quality_squared_sum: number | string;
}

/**
 * Reads the optimizer's aggregates for every cost center of the policy (all of them, because
 * thin segments borrow from the others). One query per distinct time zone: hours and day types
 * are local to each cost center.
 */
export async function readSegmentAggregates(input: ReadAggregatesInput): Promise<{ aggregates: SegmentAggregate[]; observedDays: Record<string, number> }> {
  const until = input.until ?? new Date();
  const since = input.since ?? new Date(until.getTime() - DEFAULT_LOOKBACK_DAYS * 86_400_000);
  const byZone = new Map<string, string[]>();
  for (const [name, center] of Object.entries(input.policy.cost_centers)) byZone.set(center.timezone, [...(byZone.get(center.timezone) ?? []), name]);
  const aggregates: SegmentAggregate[] = [];
  const observedDays: Record<string, number> = {};
  for (const [timezone, costCenters] of [...byZone].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const window = { database: input.database, costCenters, timezone, since, until };
    const rows = await (await input.clickhouse.query({ ...segmentAggregatesQuery(window), format: 'JSONEachRow' })).json<AggregateRow>();
    for (const row of rows) aggregates.push(toAggregate(row));
    const days = await (await input.clickhouse.query({ ...observedDaysQuery(window), format: 'JSONEachRow' })).json<{ cost_center: string; days: number | string }>();
    for (const row of days) observedDays[row.cost_center] = Number(row.days);
  }
  aggregates.sort(compareSegments);
  return { aggregates, observedDays };
}

/**
 * ClickHouse sums floats in parallel, so the last bits of a sum vary between runs; rounding to
 * 1e-9 makes the same data give the same proposal, bit for bit.
 */
function stable(value: number | string): number {
  return Math.round(Number(value) * 1e9) / 1e9;
}

function toAggregate(row: AggregateRow): SegmentAggregate {
  return {
    costCenter: row.cost_center,
    requestedModel: row.requested_model,
    servedModel: row.served_model,
    inputTokenBucket: Number(row.input_token_bucket),
    hour: Number(row.hour),
    dayType: row.day_type as DayType,
    turns: Number(row.turns),
    inputTokens: Number(row.input_tokens),
    cachedInputTokens: Number(row.cached_input_tokens),
    outputTokens: Number(row.output_tokens),
    costUsd: stable(row.cost_usd),
    scoredTurns: Number(row.scored_turns),
    qualitySum: stable(row.quality_sum),
    qualitySquaredSum: stable(row.quality_squared_sum),
  };
}

export interface RunOptimizerInput extends ReadAggregatesInput {
  /** Only this cost center (the others' data still feeds the pooling). */
  costCenter?: string | undefined;
  seed: number;
  onProgress?: ((progress: OptimizerProgress) => void) | undefined;
  /** Search and warm-up settings passed to {@link optimizeSegments}. */
  options?: Omit<OptimizeOptions, 'observedDays' | 'seed' | 'costCenter' | 'onProgress'>;
}

/** SQL aggregates → Bayesian search → one result per cost center (proposal, insufficient_data or no_improvement). */
export async function runOptimizer(input: RunOptimizerInput): Promise<OptimizerResult[]> {
  return (await runOptimizerWithData(input)).results;
}

/** {@link runOptimizer}, also handing back the aggregates it read (the loop's exploration prices its candidates from them). */
export async function runOptimizerWithData(input: RunOptimizerInput): Promise<{ results: OptimizerResult[]; aggregates: SegmentAggregate[]; observedDays: Record<string, number> }> {
  const { aggregates, observedDays } = await readSegmentAggregates(input);
  const sessionOutcomes = await readSessionOutcomes(input);
  const results = optimizeSegments(aggregates, input.policy, { ...input.options, observedDays, seed: input.seed, costCenter: input.costCenter, onProgress: input.onProgress, sessionOutcomes });
  return { results, aggregates, observedDays };
}

/** Session outcomes per majority route of every cost center, or undefined when no cost center weighs them. */
export async function readSessionOutcomes(input: ReadAggregatesInput): Promise<SessionOutcome[] | undefined> {
  const names = Object.keys(input.policy.cost_centers);
  const weighs = names.some((name) => {
    const weights = optimizerSettingsOf(input.policy, name).qualityWeights;
    return weights.taskCompletion + weights.codeCorrectness > 0;
  });
  if (!weighs) return undefined;
  const until = input.until ?? new Date();
  const since = input.since ?? new Date(until.getTime() - DEFAULT_LOOKBACK_DAYS * 86_400_000);
  const rows = await (await input.clickhouse.query({ ...sessionOutcomesQuery({ database: input.database, costCenters: names, since, until }), format: 'JSONEachRow' })).json<Record<string, string | number>>();
  return rows.map(sessionOutcomeOf);
}
