import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import type { RoutingRule } from '../../shared/policy/policy-schema.ts';
import { clickhouseTime } from '../../optimizer/optimizer-queries.ts';
import { checkActivation } from '../../optimizer/rollback-guard.ts';
import { createSeededRandom } from '../../optimizer/seeded-random.ts';
import { spanRow } from '../helpers/span-row.ts';
import { DEFAULT_OPTIMIZER_SETTINGS, type QualityWeights } from '../../shared/policy/optimizer-settings.ts';

/**
 * The rollback guard against a concurrent holdout, on real chDB. After activation the work itself
 * gets harder (every session scores 0.05 lower, whatever model serves it): compared with the two
 * weeks before, a neutral rule looks like a regression; compared with the sessions the rule held
 * out at the same time, it does not. A rule that really regresses still rolls back. Turns of one
 * session share a session effect, so the guard's variance is by session (cluster-robust).
 */
const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-guard-holdout-'));
const database = `guard_holdout_${process.pid}`;
const ACTIVATION = Date.parse('2026-11-16T00:00:00Z');
const HOUR = 3_600_000;
const TURNS_PER_SESSION = 6;
const random = createSeededRandom(2026);
let clickhouse: ClickHouseClient;
let sequence = 0;

interface SessionBatch {
  costCenter: string;
  sessions: number;
  /** Mean turn quality of these sessions. */
  quality: number;
  startMillis: number;
  arm: '' | 'treatment' | 'holdout';
  rule?: RoutingRule;
  /** Probability a session completes its task (a session-level task_completion score per session). */
  completion?: number;
}

/** Sessions of `TURNS_PER_SESSION` turns: quality = mean + session effect (sd 0.05) + turn noise (sd 0.05). */
async function insertSessions(batch: SessionBatch): Promise<void> {
  const spans = [];
  const scores = [];
  for (let session = 0; session < batch.sessions; session += 1) {
    const sessionId = `ses_${batch.costCenter}_${(sequence += 1)}`;
    const sessionEffect = 0.05 * random.normal();
    for (let turn = 0; turn < TURNS_PER_SESSION; turn += 1) {
      const requestId = `req_${sequence}_${turn}`;
      const ts = clickhouseTime(new Date(batch.startMillis + (session % 200) * HOUR / 10 + turn * 60_000));
      const routed = batch.arm === 'treatment';
      spans.push(
        spanRow({
          ts,
          request_id: requestId,
          session_id: sessionId,
          turn_id: requestId,
          cost_center: batch.costCenter,
          requested_model: 'gpt-5.5',
          served_model: routed ? 'gpt-5.1-mini' : 'gpt-5.5',
          status_code: 200,
          rule_id: batch.rule?.id ?? '',
          experiment_arm: batch.arm,
          policy_version: batch.rule ? 2 : 1,
          input_token_estimate: 1000,
        }),
      );
      const value = Math.min(1, Math.max(0, batch.quality + sessionEffect + 0.05 * random.normal()));
      if (turn === TURNS_PER_SESSION - 1 && batch.completion !== undefined) {
        scores.push({ ts, session_id: sessionId, turn_id: '', request_id: '', level: 'session', scorer: 'task_completion', scorer_version: 1, value: random.next() < batch.completion ? 1 : 0, reasons: [], served_model: routed ? 'gpt-5.1-mini' : 'gpt-5.5', provider: 'openai', cost_center: batch.costCenter, developer: 'alice', policy_version: 1, rule_id: '', requested_model: 'gpt-5.5', input_token_bucket: 0, hour: 0, dry_run: false, scored_at: ts });
      }
      scores.push({ ts, session_id: sessionId, turn_id: requestId, request_id: requestId, level: 'turn', scorer: 'tool_use_accuracy', scorer_version: 1, value, reasons: [], served_model: routed ? 'gpt-5.1-mini' : 'gpt-5.5', provider: 'openai', cost_center: batch.costCenter, developer: 'alice', policy_version: 1, rule_id: batch.rule?.id ?? '', requested_model: 'gpt-5.5', input_token_bucket: 0, hour: 0, dry_run: false, scored_at: ts });
    }
  }
  await clickhouse.insert({ table: `${database}.spans`, values: spans, format: 'JSONEachRow' });
  await clickhouse.insert({ table: `${database}.eval_scores`, values: scores, format: 'JSONEachRow' });
}

const ruleFor = (costCenter: string): RoutingRule => ({ id: `opt-${costCenter}`, cost_centers: [costCenter], when: { requested_models: ['gpt-5.5'] }, route_to: 'gpt-5.1-mini', dry_run: false, proposal_id: `opt_${costCenter}` });

/** Two weeks of history at 0.80, then a drift to 0.75 for everyone; the rule's treatment arm scores `treatmentQuality`. */
async function scenario(costCenter: string, treatmentQuality: number): Promise<RoutingRule> {
  const rule = ruleFor(costCenter);
  await insertSessions({ costCenter, sessions: 600, quality: 0.8, startMillis: ACTIVATION - 10 * 24 * HOUR, arm: '' });
  await insertSessions({ costCenter, sessions: 100, quality: 0.75, startMillis: ACTIVATION + HOUR, arm: 'holdout', rule });
  await insertSessions({ costCenter, sessions: 400, quality: treatmentQuality, startMillis: ACTIVATION + HOUR, arm: 'treatment', rule });
  return rule;
}

const look = (costCenter: string, rule: RoutingRule, holdoutShare: number, qualityWeights?: QualityWeights) =>
  checkActivation({ clickhouse, database, activation: { costCenter, rule, policyVersion: 2, activatedAt: new Date(ACTIVATION), qualityRegressionLimit: 0.005, holdoutShare, qualityWeights } });

beforeAll(async () => {
  clickhouse = await createClickHouse({ url: 'embedded', database, dataDir });
  await migrate(clickhouse, database);
}, 120_000);

afterAll(async () => {
  await clickhouse?.command({ query: `DROP DATABASE IF EXISTS ${database}` });
  await clickhouse?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('rollback guard with a concurrent holdout', () => {
  it('does not roll back a neutral rule when the whole population drifts; the historical baseline would', async () => {
    const rule = await scenario('drifting', 0.75);
    const concurrent = await look('drifting', rule, 0.05);
    expect(concurrent.numbers.comparison).toBe('concurrent');
    expect(concurrent.decision).not.toBe('rollback');
    expect(concurrent.numbers.holdout.n).toBe(100 * TURNS_PER_SESSION);
    expect(concurrent.numbers.holdout.sessions).toBe(100);
    expect(concurrent.numbers.treatment.n).toBe(400 * TURNS_PER_SESSION);
    expect(Math.abs(concurrent.numbers.concurrentRegression?.mean ?? 1)).toBeLessThan(0.015);
    // Both comparisons are reported: the historical one sees the drift as a 5-point regression.
    expect(concurrent.numbers.historicalRegression?.mean).toBeGreaterThan(0.035);
    const historical = await look('drifting', rule, 0);
    expect(historical.numbers.comparison).toBe('historical');
    expect(historical.decision).toBe('rollback');
  });

  it('still rolls back a rule that regresses against its concurrent holdout', async () => {
    const rule = await scenario('regressing', 0.72);
    const result = await look('regressing', rule, 0.05);
    expect(result.numbers.comparison).toBe('concurrent');
    expect(result.decision).toBe('rollback');
    expect(result.numbers.observedRegression).toBeGreaterThan(0.015);
  });

  it('weighs session outcomes in: valid turns whose sessions do not finish roll back against the holdout', async () => {
    const rule = ruleFor('unfinished');
    await insertSessions({ costCenter: 'unfinished', sessions: 100, quality: 0.75, startMillis: ACTIVATION + HOUR, arm: 'holdout', rule, completion: 0.8 });
    await insertSessions({ costCenter: 'unfinished', sessions: 400, quality: 0.75, startMillis: ACTIVATION + HOUR, arm: 'treatment', rule, completion: 0.3 });
    const turnsOnly = await look('unfinished', rule, 0.05);
    expect(turnsOnly.decision).not.toBe('rollback');
    const weighted = await look('unfinished', rule, 0.05, DEFAULT_OPTIMIZER_SETTINGS.qualityWeights);
    expect(weighted.decision).toBe('rollback');
    // Turn validity 0.4 and task completion 0.4 (no code_correctness scores): half of a ~0.5 completion gap.
    expect(weighted.numbers.observedRegression).toBeGreaterThan(0.15);
  });

  it('counts sessions, not turns, as independent: the variance carries the session effect', async () => {
    const rule = ruleFor('drifting');
    const { numbers } = await look('drifting', rule, 0.05);
    for (const arm of [numbers.treatment, numbers.holdout, numbers.baseline]) {
      // Session effect sd 0.05 and turn noise sd 0.05 over 6 turns: design effect ≈ 1 + 5 × 0.5 = 3.5.
      expect(arm.variance / (arm.naiveVariance ?? 1)).toBeGreaterThan(2);
      expect(arm.variance / (arm.naiveVariance ?? 1)).toBeLessThan(5.5);
    }
  });
});
