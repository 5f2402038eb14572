import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickhouseTime } from '../../optimizer/optimizer-queries.ts';
import { startTestGatehouse, testPolicy, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { spanRow } from '../helpers/span-row.ts';
import { admin } from '../e2e/helpers/e2e-client.ts';

/**
 * Proposals come only from candidates with enough evidence: a lowered-effort candidate the loop
 * explored is not proposed on 20 scored exploration turns, and is proposed — as a rule with
 * `reasoning_effort`, through governance, with its numbers — once it has the warm-up's 40.
 */
describe('exploration evidence feeds proposals', () => {
  let gatehouse: TestGatehouse;
  let sequence = 0;
  const policy = testPolicy({
    cost_centers: {
      platform: { allowed_models: ['gpt-5.5'], allowed_providers: ['openai'], quality_regression_limit: 0.03, optimizer: { exploration_share: 0.05, warm_up: { min_scored_turns: 40 } } },
      data: { allowed_models: ['gpt-5.5'], allowed_providers: ['openai'], quality_regression_limit: 0.03, optimizer: { exploration_share: 0.05, warm_up: { min_scored_turns: 40 } } },
    },
  });

  beforeAll(async () => {
    gatehouse = await startTestGatehouse({ providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } }, policy, extraConfig: { optimizer: { seed: 7, interval_seconds: 86_400, guard_interval_seconds: 3_600 } } });
  }, 60_000);
  afterAll(async () => gatehouse?.stop());

  /**
   * `count` scored turns (one session each) of gpt-5.5 asked at effort high; `explored` ones served at
   * medium by the exploration; `taskCompletion` adds that session-level score to each session.
   */
  async function insertTurns(count: number, explored: boolean, costCenter = 'platform', taskCompletion?: number): Promise<void> {
    const spans = [];
    const scores = [];
    for (let index = 0; index < count; index += 1) {
      const requestId = `req_explore_${(sequence += 1)}`;
      const ts = clickhouseTime(new Date(Date.now() - 3_600_000 + sequence * 1000));
      const common = { ts, session_id: `sess_${requestId}`, turn_id: requestId, request_id: requestId, cost_center: costCenter };
      spans.push(spanRow({ ...common, requested_model: 'gpt-5.5', served_model: 'gpt-5.5', rule_id: explored ? 'exploration' : '', experiment_arm: explored ? 'exploration' : '', requested_reasoning_effort: 'high', reasoning_effort: explored ? 'medium' : 'high' }));
      if (taskCompletion !== undefined) scores.push({ ...common, turn_id: '', request_id: '', level: 'session', scorer: 'task_completion', scorer_version: 1, value: taskCompletion, reasons: [], served_model: 'gpt-5.5', provider: 'openai', developer: 'alice', policy_version: 1, rule_id: '', requested_model: 'gpt-5.5', input_token_bucket: 0, hour: 0, dry_run: false, scored_at: ts });
      scores.push({ ...common, level: 'turn', scorer: 'tool_call_validity', scorer_version: 1, value: 0.8 + (index % 2 === 0 ? 0.05 : -0.05), reasons: [], served_model: 'gpt-5.5', provider: 'openai', developer: 'alice', policy_version: 1, rule_id: '', requested_model: 'gpt-5.5', input_token_bucket: 0, hour: 0, dry_run: false, scored_at: ts });
    }
    await gatehouse.clickhouse.insert({ table: 'gatehouse.spans', values: spans, format: 'JSONEachRow' });
    await gatehouse.clickhouse.insert({ table: 'gatehouse.eval_scores', values: scores, format: 'JSONEachRow' });
  }

  type Run = { body: { exploration: { costCenter: string; plan?: { candidate: string }; candidates: { id: string; scoredTurns: number; proposable: boolean; components: unknown }[] }[] } };
  const explorationOf = (run: Run, costCenter = 'platform') => run.body.exploration.find((entry) => entry.costCenter === costCenter);
  const candidate = (run: Run, costCenter = 'platform') => explorationOf(run, costCenter)?.candidates.find((entry) => entry.id === 'gpt-5.5->gpt-5.5@medium');

  it('is not proposed on too little evidence, and is proposed as an effort rule once it has enough', async () => {
    await insertTurns(80, false);
    await insertTurns(20, true);
    const early = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', {});
    expect(early.status, early.text).toBe(200);
    expect(candidate(early)).toMatchObject({ scoredTurns: 20, proposable: false });
    expect(early.body.proposals).toEqual([]);

    await insertTurns(30, true);
    const ready = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', {});
    expect(candidate(ready)).toMatchObject({ scoredTurns: 50, proposable: true });
    expect(ready.body.proposals).toHaveLength(1);
    const [proposal] = ready.body.proposals;
    expect(proposal.summary).toMatch(/^for platform, serve gpt-5\.5 turns at reasoning effort medium \(when asked higher\): regression ≤ \d+\.\d% \(95% bound, 50 scored exploration turns\), saving \$[\d,]+\/month$/);
    const listed = await admin(gatehouse.url, 'GET', '/admin/policy/proposals?status=pending');
    expect(listed.body.proposals).toHaveLength(1);
    const math = typeof listed.body.proposals[0].math === 'string' ? JSON.parse(listed.body.proposals[0].math) : listed.body.proposals[0].math;
    expect(math).toMatchObject({ requestedModel: 'gpt-5.5', targetModel: 'gpt-5.5', reasoningEffort: 'medium', samples: { explorationScoredTurns: 50, minEvidence: 40 } });
    expect(JSON.stringify(listed.body.proposals[0].diff)).toContain('"reasoning_effort":"medium"');
    // The proposable candidate is no longer explored: the plan moved on (or ended).
    expect(explorationOf(ready)?.plan?.candidate).not.toBe('gpt-5.5->gpt-5.5@medium');
  });

  it('weighs session outcomes: turns as valid as the baseline but tasks left unfinished are not proposed', async () => {
    await insertTurns(80, false, 'data', 0.9);
    await insertTurns(60, true, 'data', 0.3);
    const run = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', { cost_center: 'data' });
    expect(run.status, run.text).toBe(200);
    const seen = candidate(run, 'data');
    expect(seen).toMatchObject({ scoredTurns: 60, proposable: false });
    const components = seen?.components as { toolUseAccuracy: number; taskCompletion: number; codeCorrectness: number | null };
    expect(Math.abs(components.toolUseAccuracy)).toBeLessThan(0.02);
    expect(components.taskCompletion).toBeCloseTo(0.6, 5);
    expect(components.codeCorrectness).toBeNull();
    expect(run.body.proposals).toEqual([]);
  });
});
