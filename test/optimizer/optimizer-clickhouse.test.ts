import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import type { RoutingRule } from '../../shared/policy/policy-schema.ts';
import type { SpanRow } from '../../shared/telemetry/turn-record.ts';
import { optimizeSegments } from '../../optimizer/optimize-segments.ts';
import type { OptimizerProposal } from '../../optimizer/proposal.ts';
import { checkActivation, type GuardNumbers } from '../../optimizer/rollback-guard.ts';
import { readSegmentAggregates, runOptimizer } from '../../optimizer/run-optimizer.ts';
import { SegmentAccumulator } from '../../optimizer/segment-aggregate.ts';
import { SIMULATED_MODELS, simulateTraffic, simulationPolicy, type EvalScoreRow, type SimulationOptions } from '../../optimizer/simulate.ts';
import { computeWouldHaveSavings, wouldHaveSavingsFromSpans } from '../../optimizer/would-have-savings.ts';

// chDB binds one data directory per process; vitest runs this file in its own fork.
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-optimizer-'));
const database = `optimizer_${process.pid}`;
const policy = simulationPolicy({ qualityRegressionLimit: 0.02 });
const WEEK = 7 * 86_400_000;
const START = Date.parse('2026-10-05T00:00:00Z');
const DRY_RUN_START = START + 3 * WEEK;
const ACTIVATION = START + 4 * WEEK;

let clickhouse: ClickHouseClient;
const accumulator = new SegmentAccumulator();
// The same traffic seen from cost centers in other time zones (hours, day types and days are local).
const zones = { mobile: 'America/New_York', platform: 'Asia/Kolkata' };
const zonedAccumulator = new SegmentAccumulator(zones);
const dryRunSpans: SpanRow[] = [];
let proposal: OptimizerProposal;

/** Simulates traffic and inserts its spans and eval scores, in batches. */
async function insertSimulation(options: SimulationOptions, onSpan?: (span: SpanRow, scores: EvalScoreRow[]) => void): Promise<number> {
  let spans: SpanRow[] = [];
  let scores: EvalScoreRow[] = [];
  const pending: Promise<unknown>[] = [];
  const flush = () => {
    if (spans.length > 0) pending.push(clickhouse.insert({ table: `${database}.spans`, values: spans, format: 'JSONEachRow' }));
    if (scores.length > 0) pending.push(clickhouse.insert({ table: `${database}.eval_scores`, values: scores, format: 'JSONEachRow' }));
    spans = [];
    scores = [];
  };
  const summary = simulateTraffic(options, {
    turn(span, turnScores) {
      spans.push(span);
      scores.push(...turnScores);
      onSpan?.(span, turnScores);
      if (spans.length >= 20_000) flush();
    },
    sessionScore: (score) => scores.push(score),
  });
  flush();
  await Promise.all(pending);
  return summary.turns;
}

function turnQuality(scores: readonly EvalScoreRow[]): number | undefined {
  return scores.length === 0 ? undefined : scores.reduce((total, score) => total + score.value, 0) / scores.length;
}

beforeAll(async () => {
  clickhouse = await createClickHouse({ url: 'embedded', database, dataDir });
  await migrate(clickhouse, database);
  // eval_scores comes from the evaluator's migration 0011; the test relies on it rather than its own copy.
  const tables = await (await clickhouse.query({ query: `SELECT name FROM system.tables WHERE database = {db:String}`, query_params: { db: database }, format: 'JSONEachRow' })).json<{ name: string }>();
  expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(['spans', 'eval_scores']));
  await insertSimulation({ seed: 11, developers: 120, days: 21, startIso: new Date(START).toISOString() }, (span, scores) => {
    accumulator.add(span, turnQuality(scores));
    zonedAccumulator.add(span, turnQuality(scores));
  });
}, 120_000);

afterAll(async () => {
  await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await clickhouse?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('optimizer against embedded ClickHouse (chDB)', () => {
  const window = { since: new Date(START), until: new Date(DRY_RUN_START) };

  it('reads the same aggregates through SQL as the in-memory twin computes', async () => {
    const { aggregates, observedDays } = await readSegmentAggregates({ clickhouse, database, policy, ...window });
    const expected = accumulator.aggregates();
    expect(aggregates.length).toBe(expected.length);
    expect(observedDays).toEqual(accumulator.observedDays());
    aggregates.forEach((row, index) => {
      const twin = expected[index];
      expect({ ...row, costUsd: 0, qualitySum: 0, qualitySquaredSum: 0 }).toEqual({ ...twin, costUsd: 0, qualitySum: 0, qualitySquaredSum: 0 });
      expect(row.costUsd).toBeCloseTo(twin?.costUsd ?? NaN, 6);
      expect(row.qualitySum).toBeCloseTo(twin?.qualitySum ?? NaN, 6);
    });
  });

  it('cuts hours and days in each cost center\'s time zone, like the in-memory twin', async () => {
    const zoned = { ...policy, cost_centers: { ...policy.cost_centers } };
    for (const [name, timezone] of Object.entries(zones)) zoned.cost_centers[name] = { ...policy.cost_centers[name]!, timezone };
    const { aggregates, observedDays } = await readSegmentAggregates({ clickhouse, database, policy: zoned, ...window });
    const expected = zonedAccumulator.aggregates();
    expect(observedDays).toEqual(zonedAccumulator.observedDays());
    expect(observedDays.mobile).toBe(22);
    expect(aggregates.map((row) => [row.costCenter, row.requestedModel, row.servedModel, row.inputTokenBucket, row.dayType, row.hour, row.turns, row.scoredTurns])).toEqual(
      expected.map((row) => [row.costCenter, row.requestedModel, row.servedModel, row.inputTokenBucket, row.dayType, row.hour, row.turns, row.scoredTurns]),
    );
    // Night-time work in New York is mid-morning UTC: the zone really moved the hours.
    const utcHours = accumulator.aggregates().filter((row) => row.costCenter === 'mobile' && row.hour === 14).reduce((total, row) => total + row.turns, 0);
    const localHours = aggregates.filter((row) => row.costCenter === 'mobile' && row.hour === 14).reduce((total, row) => total + row.turns, 0);
    expect(localHours).not.toBe(utcHours);
  });

  it('runs the optimizer end to end and proposes what the pure core proposes', async () => {
    const progress: number[] = [];
    const results = await runOptimizer({ clickhouse, database, policy, seed: 42, ...window, onProgress: (entry) => progress.push(entry.evaluation) });
    expect(results).toHaveLength(4);
    const pure = optimizeSegments(accumulator.aggregates(), policy, { observedDays: accumulator.observedDays(), seed: 42 });
    for (const [index, result] of results.entries()) {
      expect(result.status).toBe('proposal');
      const twin = pure[index] as OptimizerProposal;
      if (result.status !== 'proposal') continue;
      expect(result.rule).toEqual(twin.rule);
      expect(result.math.predictedMonthlySavingUsd).toBeCloseTo(twin.math.predictedMonthlySavingUsd, 6);
      expect(result.math.targetModel).toBe(SIMULATED_MODELS.cheaper);
      expect(result.math.thresholdTokens).toBeGreaterThanOrEqual(12_000);
      expect(result.math.thresholdTokens).toBeLessThanOrEqual(24_000);
    }
    expect(progress.length).toBe(4 * 80);
    proposal = results.find((result) => result.costCenter === 'finance-squad') as OptimizerProposal;
    // One cost center only: others still feed the pooling, only one result comes back.
    const single = await runOptimizer({ clickhouse, database, policy, seed: 42, costCenter: 'finance-squad', ...window });
    expect(single).toEqual([proposal]);
  });

  it('measures observed would-have savings of the proposed rule in dry-run', async () => {
    const dryRule: RoutingRule = { ...proposal.rule, dry_run: true };
    await insertSimulation({ seed: 12, developers: 120, days: 7, startIso: new Date(DRY_RUN_START).toISOString(), policyVersion: 2, rules: [dryRule] }, (span) => {
      if (span.rule_id !== '') dryRunSpans.push(span);
    });
    const observed = await computeWouldHaveSavings({ clickhouse, database, policy, rule: dryRule, since: new Date(DRY_RUN_START), until: new Date(ACTIVATION) });
    const inMemory = wouldHaveSavingsFromSpans(dryRunSpans, dryRule, policy);
    expect(observed.turns).toBe(inMemory.turns);
    expect(observed.turns).toBeGreaterThan(1000);
    expect(observed.savingUsd).toBeCloseTo(inMemory.savingUsd, 6);
    expect(observed.observedDays).toBe(7);
    // Nothing was routed: the spans were only tagged.
    expect(dryRunSpans.every((span) => span.rule_dry_run && span.dry_run_decision.includes(dryRule.id))).toBe(true);
    // The dry-run week confirms the optimizer's prediction (exploration turns already cheap are in both).
    expect(Math.abs(observed.monthlySavingUsd - proposal.math.predictedMonthlySavingUsd) / proposal.math.predictedMonthlySavingUsd).toBeLessThan(0.25);
  });

  it('rolls back an activation that regresses and keeps one that does not', async () => {
    const harmful: RoutingRule = { id: 'platform-to-nano', cost_centers: ['platform'], when: { requested_models: [SIMULATED_MODELS.expensive], input_tokens: { max: 16_000 } }, route_to: SIMULATED_MODELS.cheapest, dry_run: false };
    const harmless: RoutingRule = { id: 'mobile-small-to-mini', cost_centers: ['mobile'], when: { requested_models: [SIMULATED_MODELS.expensive], input_tokens: { max: 4_000 }, hours: [6, 22] }, route_to: SIMULATED_MODELS.cheaper, dry_run: false };
    await insertSimulation({ seed: 13, developers: 120, days: 7, startIso: new Date(ACTIVATION).toISOString(), policyVersion: 3, rules: [harmful, harmless] });
    const rollbacks: GuardNumbers[] = [];
    const watch = (rule: RoutingRule, costCenter: string) =>
      checkActivation({ clickhouse, database, activation: { costCenter, rule, policyVersion: 3, activatedAt: new Date(ACTIVATION), qualityRegressionLimit: 0.005 }, onRollback: (numbers) => void rollbacks.push(numbers) });
    const bad = await watch(harmful, 'platform');
    expect(bad.decision).toBe('rollback');
    expect(bad.numbers.treatment.n).toBeGreaterThan(200);
    expect(bad.numbers.baseline.n).toBeGreaterThan(200);
    expect(bad.numbers.observedRegression).toBeGreaterThan(0.05);
    expect(rollbacks).toEqual([bad.numbers]);
    const fine = await watch(harmless, 'mobile');
    expect(fine.decision).not.toBe('rollback');
    expect(Math.abs(fine.numbers.observedRegression)).toBeLessThan(0.01);
    expect(rollbacks).toHaveLength(1);
    // The baseline follows the rule's conditions: hours wrapping midnight, days, token bounds.
    const day = '2026-10-28'; // a Wednesday, inside the 14 days before activation
    const hours = Array.from({ length: 24 }, (_, hour) => hour);
    await clickhouse.insert({
      table: `${database}.spans`,
      format: 'JSONEachRow',
      values: hours.map((hour) => ({ ts: `${day} ${String(hour).padStart(2, '0')}:30:00.000`, request_id: `wrap-${hour}`, cost_center: 'finance-squad-wrap', requested_model: 'gpt-5.1', served_model: 'gpt-5.1', status_code: 200, input_tokens: 1000, tags: [], translation_warnings: [] })),
    });
    await clickhouse.insert({
      table: `${database}.eval_scores`,
      format: 'JSONEachRow',
      values: hours.map((hour) => ({ ts: `${day} ${String(hour).padStart(2, '0')}:30:00.000`, session_id: 'wrap', request_id: `wrap-${hour}`, turn_id: `wrap-${hour}`, level: 'turn', scorer: 'tool_call_validity', value: 0.5, reasons: [], scored_at: `${day} 23:59:00.000` })),
    });
    const baselineOf = async (when: RoutingRule['when']) =>
      (await checkActivation({ clickhouse, database, activation: { costCenter: 'finance-squad-wrap', rule: { ...harmless, id: 'wrap-check', when }, policyVersion: 3, activatedAt: new Date(ACTIVATION), qualityRegressionLimit: 0.005 } })).numbers.baseline.n;
    expect(await baselineOf({})).toBe(24);
    expect(await baselineOf({ hours: [22, 2] })).toBe(4);
    expect(await baselineOf({ hours: [9, 17] })).toBe(8);
    expect(await baselineOf({ hours: [22, 2], days: ['wed'] })).toBe(4);
    expect(await baselineOf({ hours: [22, 2], days: ['sat', 'sun'] })).toBe(0);
    expect(await baselineOf({ input_tokens: { max: 999 } })).toBe(0);
    expect(await baselineOf({ requested_models: ['gpt-5.1-mini'] })).toBe(0);
    // Before the activation has traffic, the guard waits.
    const early = await checkActivation({ clickhouse, database, activation: { costCenter: 'platform', rule: harmful, policyVersion: 4, activatedAt: new Date(ACTIVATION + WEEK), qualityRegressionLimit: 0.005 } });
    expect(early.decision).toBe('continue');
    expect(early.numbers.reason).toBe('warming_up');
  });
});
