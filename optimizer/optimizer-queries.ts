/**
 * Every SQL statement the optimizer and the rollback guard run, in one place.
 * Values travel as query parameters; only the database name is interpolated (validated first).
 * Turn quality = mean of a turn's turn-level eval scores (`request_id` set), deduplicated with FINAL
 * because re-scoring writes the same key again (migration 0011).
 */
import { INPUT_TOKEN_EDGES } from './segment-aggregate.ts';

/**
 * The `outcomes` CTE of the queries that weigh session outcomes: per session, how many task-completion
 * and code-correctness scores it has and their mean, from scores written since the `{<sinceParam>}`
 * parameter. Join it as `outcomes AS o` and aggregate with SESSION_OUTCOME_AGGREGATES.
 */
export function sessionOutcomesCte(db: string, sinceParam: string): string {
  return `outcomes AS (
  SELECT session_id,
    countIf(scorer = 'task_completion') AS oc_n, avgIf(value, scorer = 'task_completion') AS oc_mean,
    countIf(scorer = 'code_correctness') AS ok_n, avgIf(value, scorer = 'code_correctness') AS ok_mean
  FROM ${db}.eval_scores FINAL
  WHERE level = 'session' AND ts >= {${sinceParam}:DateTime64(3)}
  GROUP BY session_id
)`;
}

/** Per component over the joined `o`: sessions scored, the sum of their means and of the squared means. */
export const SESSION_OUTCOME_AGGREGATES = `countIf(o.oc_n > 0) AS completion_n, sumIf(o.oc_mean, o.oc_n > 0) AS completion_sum, sumIf(o.oc_mean * o.oc_mean, o.oc_n > 0) AS completion_squares,
  countIf(o.ok_n > 0) AS correctness_n, sumIf(o.ok_mean, o.ok_n > 0) AS correctness_sum, sumIf(o.ok_mean * o.ok_mean, o.ok_n > 0) AS correctness_squares`;

/** A statement plus its parameters, ready for `client.query`. */
export interface PreparedQuery {
  query: string;
  query_params: Record<string, unknown>;
}

function database(name: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`invalid database name "${name}"`);
  return name;
}

/** ClickHouse DateTime64 text in UTC ("2026-11-02 10:00:00.000"). */
export function clickhouseTime(instant: Date): string {
  return instant.toISOString().replace('T', ' ').replace('Z', '');
}

const TURN_QUALITY = (db: string) => `
  turn_quality AS (
    SELECT request_id, avg(value) AS quality
    FROM ${db}.eval_scores FINAL
    WHERE request_id != '' AND ts >= {quality_since:DateTime64(3)}
    GROUP BY request_id
  )`;

/** The token count routing rules match on: the gateway's pre-call estimate when it has one. */
const RULE_TOKENS = `if(s.input_token_estimate > 0, s.input_token_estimate, s.input_tokens)`;

/**
 * Aggregates per (cost center, requested model, served model, input-token bucket, local hour,
 * day type) for cost centers sharing one time zone. Failed turns (status ≥ 400) are left out.
 * Rows map 1:1 onto `SegmentAggregate`.
 */
export function segmentAggregatesQuery(input: { database: string; costCenters: readonly string[]; timezone: string; since: Date; until: Date }): PreparedQuery {
  const db = database(input.database);
  return {
    query: `
WITH ${TURN_QUALITY(db)}
SELECT
  s.cost_center AS cost_center,
  s.requested_model AS requested_model,
  s.served_model AS served_model,
  toUInt32(arrayCount(edge -> edge < ${RULE_TOKENS}, {edges:Array(UInt64)})) AS input_token_bucket,
  toHour(s.ts, {timezone:String}) AS hour,
  if(toDayOfWeek(s.ts, 0, {timezone:String}) >= 6, 'weekend', 'weekday') AS day_type,
  count() AS turns,
  sum(s.input_tokens) AS input_tokens,
  sum(s.cached_input_tokens) AS cached_input_tokens,
  sum(s.output_tokens) AS output_tokens,
  sumKahan(s.cost_usd) AS cost_usd,
  countIf(q.request_id != '') AS scored_turns,
  sumKahanIf(q.quality, q.request_id != '') AS quality_sum,
  sumKahanIf(q.quality * q.quality, q.request_id != '') AS quality_squared_sum
FROM ${db}.spans AS s
LEFT JOIN turn_quality AS q ON q.request_id = s.request_id
WHERE has({cost_centers:Array(String)}, s.cost_center)
  AND s.ts >= {since:DateTime64(3)} AND s.ts < {until:DateTime64(3)}
  AND s.status_code < 400 AND s.requested_model != '' AND s.served_model != ''
GROUP BY cost_center, requested_model, served_model, input_token_bucket, hour, day_type
ORDER BY cost_center, requested_model, served_model, input_token_bucket, day_type, hour`,
    query_params: {
      edges: [...INPUT_TOKEN_EDGES],
      timezone: input.timezone,
      cost_centers: [...input.costCenters],
      since: clickhouseTime(input.since),
      until: clickhouseTime(input.until),
      quality_since: clickhouseTime(new Date(input.since.getTime() - 86_400_000)),
    },
  };
}

/** Calendar days (first to last, inclusive, in the cost centers' time zone) of traffic per cost center. */
export function observedDaysQuery(input: { database: string; costCenters: readonly string[]; timezone: string; since: Date; until: Date }): PreparedQuery {
  const db = database(input.database);
  return {
    query: `
SELECT cost_center, dateDiff('day', toDate(min(ts), {timezone:String}), toDate(max(ts), {timezone:String})) + 1 AS days
FROM ${db}.spans
WHERE has({cost_centers:Array(String)}, cost_center) AND ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
GROUP BY cost_center
ORDER BY cost_center`,
    query_params: { timezone: input.timezone, cost_centers: [...input.costCenters], since: clickhouseTime(input.since), until: clickhouseTime(input.until) },
  };
}

/**
 * Turns a dry-run rule matched (the gateway logged `rule_id` with `rule_dry_run`), with their
 * tokens per served model: what routing them would have cost is priced in TypeScript.
 */
export function wouldHaveSavingsQuery(input: { database: string; ruleId: string; since: Date; until: Date }): PreparedQuery {
  const db = database(input.database);
  return {
    query: `
SELECT
  served_model,
  count() AS turns,
  sum(input_tokens) AS input_tokens,
  sum(cached_input_tokens) AS cached_input_tokens,
  sum(output_tokens) AS output_tokens,
  sum(cost_usd) AS cost_usd,
  min(ts) AS first_ts,
  max(ts) AS last_ts
FROM ${db}.spans
WHERE rule_id = {rule_id:String} AND rule_dry_run AND ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)} AND status_code < 400
GROUP BY served_model
ORDER BY served_model`,
    query_params: { rule_id: input.ruleId, since: clickhouseTime(input.since), until: clickhouseTime(input.until) },
  };
}

/** What the rollback guard compares. */
export interface GuardQueryInput {
  database: string;
  costCenter: string;
  ruleId: string;
  policyVersion: number;
  activatedAt: Date;
  baselineSince: Date;
  timezone: string;
  requestedModels: readonly string[];
  minInputTokens: number;
  maxInputTokens: number;
  /** [start, end) local hours, start > end wraps; undefined = all day. */
  hours: readonly [number, number] | undefined;
  /** ISO weekdays 1–7; empty = every day. */
  isoWeekdays: readonly number[];
}

/**
 * Quality statistics of the guard's arms, with sums per session so the variance can be
 * cluster-robust (turns of one session are correlated): `treatment` = turns the activated rule
 * routed (rule_id, not dry-run, version ≥ the activation's, arm not holdout) since activation;
 * `holdout` = turns the rule matched whose session is in its concurrent control (kept the old
 * route); `baseline` = turns before activation that the rule would have matched and that were
 * served the model they asked for (the historical comparison, reported beside the concurrent one).
 */
// Over 60 lines: one SQL statement, read whole.
export function rollbackGuardQuery(input: GuardQueryInput): PreparedQuery {
  const db = database(input.database);
  const hour = `toHour(ts, {timezone:String})`;
  return {
    query: `
WITH ${TURN_QUALITY(db)},
arms AS (
  SELECT if(experiment_arm = 'holdout', 'holdout', 'treatment') AS arm, request_id, session_id
  FROM ${db}.spans
  WHERE cost_center = {cost_center:String} AND rule_id = {rule_id:String} AND NOT rule_dry_run
    AND policy_version >= {policy_version:UInt32} AND ts >= {activated_at:DateTime64(3)} AND status_code < 400
  UNION ALL
  SELECT 'baseline' AS arm, request_id, session_id
  FROM ${db}.spans
  WHERE cost_center = {cost_center:String} AND ts >= {baseline_since:DateTime64(3)} AND ts < {activated_at:DateTime64(3)}
    AND status_code < 400 AND served_model = requested_model AND (rule_id = '' OR rule_dry_run)
    AND (length({requested_models:Array(String)}) = 0 OR has({requested_models:Array(String)}, requested_model))
    AND if(input_token_estimate > 0, input_token_estimate, input_tokens) BETWEEN {min_tokens:UInt64} AND {max_tokens:UInt64}
    AND ({all_hours:UInt8} = 1
         OR ({hour_start:UInt8} <= {hour_end:UInt8} AND ${hour} >= {hour_start:UInt8} AND ${hour} < {hour_end:UInt8})
         OR ({hour_start:UInt8} > {hour_end:UInt8} AND (${hour} >= {hour_start:UInt8} OR ${hour} < {hour_end:UInt8})))
    AND (length({weekdays:Array(UInt8)}) = 0 OR has({weekdays:Array(UInt8)}, toDayOfWeek(ts, 0, {timezone:String})))
),
per_session AS (
  SELECT arm, session_id, count() AS session_turns, sum(q.quality) AS session_total, sum(q.quality * q.quality) AS session_squares
  FROM arms
  INNER JOIN turn_quality AS q ON q.request_id = arms.request_id
  GROUP BY arm, session_id
),
${sessionOutcomesCte(db, 'quality_since')}
SELECT arm, sum(session_turns) AS n, count() AS sessions, sum(session_total) AS total, sum(session_squares) AS squares,
  sum(session_total * session_total) AS total_squared, sum(session_total * session_turns) AS total_by_turns, sum(session_turns * session_turns) AS turns_squared,
  ${SESSION_OUTCOME_AGGREGATES}
FROM per_session
LEFT JOIN outcomes AS o ON o.session_id = per_session.session_id
GROUP BY arm
ORDER BY arm`,
    query_params: {
      cost_center: input.costCenter,
      rule_id: input.ruleId,
      policy_version: input.policyVersion,
      activated_at: clickhouseTime(input.activatedAt),
      baseline_since: clickhouseTime(input.baselineSince),
      quality_since: clickhouseTime(input.baselineSince),
      timezone: input.timezone,
      requested_models: [...input.requestedModels],
      min_tokens: input.minInputTokens,
      max_tokens: input.maxInputTokens,
      all_hours: input.hours ? 0 : 1,
      hour_start: input.hours?.[0] ?? 0,
      hour_end: input.hours?.[1] ?? 24,
      weekdays: [...input.isoWeekdays],
    },
  };
}

/**
 * The evidence of the optimizer's exploration (optimizer/exploration-plan.ts), per (cost center,
 * requested model, served model, effort asked, effort served), split by arm: `explored` = turns the
 * exploration served (`experiment_arm = 'exploration'`); the others = the baseline, turns served
 * as asked (no rule, no experiment). Turn-level quality sums (scored turns only); all turns' tokens
 * and cost (the saving of an unseen candidate is priced from the baseline's token mix).
 */
export function explorationEvidenceQuery(input: { database: string; costCenters: readonly string[]; since: Date; until: Date }): PreparedQuery {
  const db = database(input.database);
  return {
    query: `
WITH ${TURN_QUALITY(db)}
SELECT
  s.cost_center AS cost_center,
  s.requested_model AS requested_model,
  s.served_model AS served_model,
  s.requested_reasoning_effort AS requested_effort,
  s.reasoning_effort AS served_effort,
  s.experiment_arm = 'exploration' AS explored,
  count() AS turns,
  sum(s.input_tokens) AS input_tokens,
  sum(s.cached_input_tokens) AS cached_input_tokens,
  sum(s.output_tokens) AS output_tokens,
  countIf(q.request_id != '') AS scored_turns,
  sumKahanIf(q.quality, q.request_id != '') AS quality_sum,
  sumKahanIf(q.quality * q.quality, q.request_id != '') AS quality_squared_sum
FROM ${db}.spans AS s
LEFT JOIN turn_quality AS q ON q.request_id = s.request_id
WHERE has({cost_centers:Array(String)}, s.cost_center)
  AND s.ts >= {since:DateTime64(3)} AND s.ts < {until:DateTime64(3)}
  AND s.status_code < 400 AND s.requested_model != '' AND s.served_model != ''
  AND (s.experiment_arm = 'exploration' OR (s.experiment_arm = '' AND s.rule_id = '' AND s.served_model = s.requested_model))
GROUP BY cost_center, requested_model, served_model, requested_effort, served_effort, explored
ORDER BY cost_center, requested_model, served_model, requested_effort, served_effort, explored`,
    query_params: {
      cost_centers: [...input.costCenters],
      since: clickhouseTime(input.since),
      until: clickhouseTime(input.until),
      quality_since: clickhouseTime(new Date(input.since.getTime() - 86_400_000)),
    },
  };
}

/**
 * Session outcomes (`task_completion`, `code_correctness`) for the exploration's arms, per the same
 * keys as {@link explorationEvidenceQuery}. Exploration is drawn per session, so an explored session's
 * turns all belong to its candidate; a session is counted under the route that served most of its turns.
 */
export function explorationOutcomesQuery(input: { database: string; costCenters: readonly string[]; since: Date; until: Date }): PreparedQuery {
  const db = database(input.database);
  return {
    query: `
WITH
routes AS (
  SELECT cost_center, session_id, requested_model, served_model, requested_reasoning_effort AS requested_effort, reasoning_effort AS served_effort,
    experiment_arm = 'exploration' AS explored, count() AS turns
  FROM ${db}.spans
  WHERE has({cost_centers:Array(String)}, cost_center) AND ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
    AND status_code < 400 AND requested_model != '' AND served_model != ''
    AND (experiment_arm = 'exploration' OR (experiment_arm = '' AND rule_id = '' AND served_model = requested_model))
  GROUP BY cost_center, session_id, requested_model, served_model, requested_effort, served_effort, explored
),
sessions AS (
  SELECT cost_center, session_id, argMax(tuple(requested_model, served_model, requested_effort, served_effort, explored), turns) AS route
  FROM routes GROUP BY cost_center, session_id
),
${sessionOutcomesCte(db, 'since')}
SELECT s.cost_center AS cost_center, s.route.1 AS requested_model, s.route.2 AS served_model, s.route.3 AS requested_effort, s.route.4 AS served_effort, s.route.5 AS explored,
  ${SESSION_OUTCOME_AGGREGATES}
FROM sessions AS s
LEFT JOIN outcomes AS o ON o.session_id = s.session_id
GROUP BY cost_center, requested_model, served_model, requested_effort, served_effort, explored
ORDER BY cost_center, requested_model, served_model, requested_effort, served_effort, explored`,
    query_params: { cost_centers: [...input.costCenters], since: clickhouseTime(input.since), until: clickhouseTime(input.until) },
  };
}
