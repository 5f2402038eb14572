import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clickhouseTime } from '../../optimizer/optimizer-queries.ts';
import { RULE_ACCEPTED_ACTION } from '../../optimizer/rollback-orchestration.ts';
import { startTestGatehouse, testPolicy, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { spanRow } from '../helpers/span-row.ts';
import { admin, approve, makeApprover, propose } from '../e2e/helpers/e2e-client.ts';

/**
 * The rollback guard's sequential test stops at its first boundary. A rule it accepted must stay
 * accepted across a restart of the process that runs the guard: judged again on the grown sample,
 * later bad turns would roll back a change the guard had already let stand.
 */
const approver = makeApprover('platform-lead', ['platform']);
const RULE = { id: 'opt_small_to_mini', cost_centers: ['platform'], when: { requested_models: ['gpt-5.5'] }, route_to: 'gpt-5.1-mini', proposal_id: 'prop_opt_guard_test' };

describe('rollback guard decisions survive a restart', () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-guard-restart-')), 'data');
  const start = () =>
    startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: 'http://127.0.0.1:9/v1', api_key: 'sk_test' } },
      // Historical comparison (no concurrent holdout): the turns below are inserted without arms.
      policy: testPolicy({ approvers: [approver.policyEntry()], optimizer: { holdout_share: 0 } }),
      dataDir,
      // The guard looks only when the test asks.
      extraConfig: { optimizer: { seed: 42, interval_seconds: 86_400, guard_interval_seconds: 3_600 } },
    });
  let gatehouse: TestGatehouse;
  let sequence = 0;

  /** `count` turns with their turn-level score (quality alternating around `quality` ± 0.05). */
  async function insertTurns(count: number, options: { startMillis: number; quality: number; treatment: boolean }): Promise<void> {
    const spans = [];
    const scores = [];
    for (let index = 0; index < count; index += 1) {
      const requestId = `req_guard_${(sequence += 1)}`;
      const ts = clickhouseTime(new Date(options.startMillis + index * 1000));
      spans.push(
        spanRow({
          ts,
          request_id: requestId,
          session_id: `sess_${requestId}`,
          turn_id: requestId,
          cost_center: 'platform',
          requested_model: 'gpt-5.5',
          served_model: options.treatment ? 'gpt-5.1-mini' : 'gpt-5.5',
          status_code: 200,
          rule_id: options.treatment ? RULE.id : '',
          rule_dry_run: false,
          policy_version: options.treatment ? 2 : 1,
          input_token_estimate: 1000,
        }),
      );
      scores.push({
        ts,
        session_id: `sess_${requestId}`,
        turn_id: requestId,
        request_id: requestId,
        level: 'turn',
        scorer: 'task_completion',
        scorer_version: 1,
        value: options.quality + (index % 2 === 0 ? 0.05 : -0.05),
        reasons: [],
        served_model: options.treatment ? 'gpt-5.1-mini' : 'gpt-5.5',
        provider: 'openai',
        cost_center: 'platform',
        developer: 'alice',
        policy_version: options.treatment ? 2 : 1,
        rule_id: options.treatment ? RULE.id : '',
        requested_model: 'gpt-5.5',
        input_token_bucket: 0,
        hour: 0,
        dry_run: false,
        scored_at: ts,
      });
    }
    await gatehouse.clickhouse.insert({ table: 'gatehouse.spans', values: spans, format: 'JSONEachRow' });
    await gatehouse.clickhouse.insert({ table: 'gatehouse.eval_scores', values: scores, format: 'JSONEachRow' });
  }

  const activeVersion = async () => (await admin(gatehouse.url, 'GET', '/admin/policy')).body.version as number;

  beforeAll(async () => {
    gatehouse = await start();
  }, 60_000);
  afterAll(async () => {
    await gatehouse?.stop();
  });

  it('accepts a rule that holds quality, records the decision on the audit log, and does not judge it again after a restart', async () => {
    const proposal = await propose(gatehouse.url, { rules: [RULE] }, 'optimizer-style rule for the guard test');
    expect((await approve(gatehouse.url, proposal, approver)).body.version).toBe(2);
    const activatedAt = Date.now();
    // 400 baseline turns over the day before, 250 routed turns since, the same quality: accept.
    await insertTurns(400, { startMillis: activatedAt - 86_400_000, quality: 0.8, treatment: false });
    await insertTurns(250, { startMillis: activatedAt + 2_000, quality: 0.8, treatment: true });
    const first = await gatehouse.optimizer!.guard();
    expect(first.map((check) => [check.ruleId, check.result.decision, check.rolledBack])).toEqual([[RULE.id, 'accept', false]]);

    // Then the routed turns turn bad: judged afresh, 850 turns averaging 0.45 would be a rollback.
    await insertTurns(600, { startMillis: activatedAt + 300_000, quality: 0.3, treatment: true });
    expect(await gatehouse.optimizer!.guard()).toEqual([]);

    await gatehouse.stop({ keepData: true });
    gatehouse = await start();
    expect(await activeVersion()).toBe(2);
    expect(await gatehouse.optimizer!.guard()).toEqual([]);
    expect(await activeVersion()).toBe(2);
    const decisions = await gatehouse.clickhouse.query({ query: `SELECT actor, subject, cost_center, policy_version, details FROM gatehouse.audit_log WHERE action = {action:String}`, query_params: { action: RULE_ACCEPTED_ACTION }, format: 'JSONEachRow' });
    const rows = await decisions.json<{ actor: string; subject: string; cost_center: string; policy_version: number; details: string }>();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ actor: 'rollback-guard', subject: `${RULE.id}@2`, cost_center: 'platform', policy_version: 2 });
    expect(JSON.parse(rows[0]?.details ?? '{}')).toMatchObject({ rule_id: RULE.id, version: 2, reason: 'no_regression' });
  }, 120_000);
});
