import type { ClickHouseClient } from '@clickhouse/client';
import type { PolicyDocument } from '../shared/policy/policy-schema.ts';
import { optimizerSettingsOf } from '../shared/policy/optimizer-settings.ts';
import { explorationEvidenceQuery, explorationOutcomesQuery } from './optimizer-queries.ts';
import { planExploration, type ArmKey, type CostCenterExploration, type EvidenceRow, type OutcomeRow } from './exploration-plan.ts';
import type { SegmentAggregate } from './segment-aggregate.ts';
import { DEFAULT_LOOKBACK_DAYS } from './run-optimizer.ts';

export interface ExploreInput {
  clickhouse: ClickHouseClient;
  database: string;
  policy: PolicyDocument;
  /** The cost centers of this run (one, or all of the policy's). */
  costCenters: readonly string[];
  aggregates: readonly SegmentAggregate[];
  observedDays: Readonly<Record<string, number>>;
  ttlMillis: number;
  now?: Date | undefined;
}

/** The exploration of every cost center of the run whose `exploration_share` is above 0 (one query for all of them). */
export async function exploreCostCenters(input: ExploreInput): Promise<CostCenterExploration[]> {
  const exploring = input.costCenters.filter((name) => optimizerSettingsOf(input.policy, name).explorationShare > 0);
  if (exploring.length === 0) return [];
  const until = input.now ?? new Date();
  const since = new Date(until.getTime() - DEFAULT_LOOKBACK_DAYS * 86_400_000);
  const query = explorationEvidenceQuery({ database: input.database, costCenters: exploring, since, until });
  const rows = (await (await input.clickhouse.query({ ...query, format: 'JSONEachRow' })).json<Record<string, string | number | boolean>>()).map(evidenceRowOf);
  const outcomesQuery = explorationOutcomesQuery({ database: input.database, costCenters: exploring, since, until });
  const outcomes = (await (await input.clickhouse.query({ ...outcomesQuery, format: 'JSONEachRow' })).json<Record<string, string | number | boolean>>()).map(outcomeRowOf);
  return exploring.flatMap((costCenter) => {
    const found = planExploration({ costCenter, policy: input.policy, aggregates: input.aggregates, evidence: rows, outcomes, observedDays: input.observedDays[costCenter] ?? 0, now: until.getTime(), ttlMillis: input.ttlMillis });
    return found ? [found] : [];
  });
}

/** The columns both exploration queries group by: which arm a row's turns or sessions belong to. */
function armOf(row: Record<string, string | number | boolean>): ArmKey {
  return {
    costCenter: String(row.cost_center),
    requestedModel: String(row.requested_model),
    servedModel: String(row.served_model),
    requestedEffort: String(row.requested_effort),
    servedEffort: String(row.served_effort),
    explored: row.explored === true || Number(row.explored) === 1,
  };
}

function evidenceRowOf(row: Record<string, string | number | boolean>): EvidenceRow {
  return {
    ...armOf(row),
    turns: Number(row.turns),
    inputTokens: Number(row.input_tokens),
    cachedInputTokens: Number(row.cached_input_tokens),
    outputTokens: Number(row.output_tokens),
    scoredTurns: Number(row.scored_turns),
    qualitySum: Number(row.quality_sum),
    qualitySquaredSum: Number(row.quality_squared_sum),
  };
}

function outcomeRowOf(row: Record<string, string | number | boolean>): OutcomeRow {
  return {
    ...armOf(row),
    completion: { n: Number(row.completion_n), sum: Number(row.completion_sum) },
    correctness: { n: Number(row.correctness_n), sum: Number(row.correctness_sum) },
  };
}
