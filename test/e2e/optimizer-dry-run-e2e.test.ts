import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeWouldHaveSavings } from '../../optimizer/would-have-savings.ts';
import type { OptimizerProposal } from '../../optimizer/proposal.ts';
import { DAYS_PER_MONTH } from '../../optimizer/segment-aggregate.ts';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, waitForRows, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, approve, makeApprover } from './helpers/e2e-client.ts';
import {
  CHEAPER,
  EXPENSIVE,
  FAKE_USAGE,
  TOOL_TURNS_PER_SESSION,
  codexFakeAnswer,
  insertHistory,
  loopPolicy,
  middayZone,
  pickHistorySeed,
  playCodexSession,
  playSessions,
  type HistoryOptions,
} from './helpers/optimizer-loop-fixtures.ts';

/**
 * Issue 8, warm-up in dry run on a running gateway: the cost center is in `dry_run`, so the
 * optimizer's approved rule only tags turns. Developers see no change (the upstream is asked for
 * the model they requested), spans carry the would-have decision, and the optimizer's would-have
 * savings (optimizer/would-have-savings.ts) price exactly the turns the gateway tagged.
 *
 * History: the simulator's three weeks (optimizer/simulate.ts) inserted into the gateway's
 * ClickHouse for the optimizer's warm-up; the dry-run turns are real requests through the gateway.
 */

const COST_CENTER = 'platform';
const KEY = 'vk_dry_platform';
const lead = makeApprover('platform-lead', [COST_CENTER]);
const now = Date.now();
const zone = middayZone(now);
const historyBase: Omit<HistoryOptions, 'seed'> = { developers: 100, days: 21, offsetHours: zone.offsetHours, nowMillis: now };
const SESSIONS = 8;

describe('optimizer rule in a dry-run cost center on a running gateway (issue 8)', () => {
  let upstream: FakeResponsesUpstream;
  let gatehouse: TestGatehouse;
  let expected: OptimizerProposal;
  let version = 0;
  let requestIds: string[] = [];

  beforeAll(async () => {
    upstream = await startFakeResponsesUpstream((body) => codexFakeAnswer(body));
    const policy = loopPolicy({ timezone: zone.timezone, keys: [{ key: KEY, developer: 'pat', cost_center: COST_CENTER }], approvers: [lead.policyEntry()], dryRunCostCenters: [COST_CENTER] });
    const picked = pickHistorySeed(historyBase, policy, COST_CENTER, 42);
    expected = picked.proposal;
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy,
      extraConfig: { evaluator: { session_idle_seconds: 1 }, optimizer: { seed: 42, interval_seconds: 86_400, guard_interval_seconds: 3_600 } },
    });
    await insertHistory(gatehouse.clickhouse, 'gatehouse', { ...historyBase, seed: picked.seed });
  }, 120_000);

  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
  });

  it('the optimizer proposes for the dry-run cost center too, and the approved rule is in force in dry run', async () => {
    const run = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', { cost_center: COST_CENTER });
    expect(run.body.proposals).toHaveLength(1);
    const [proposal] = run.body.proposals;
    expect(proposal).toMatchObject({ source: 'optimizer', summary: expected.summary });
    const approved = await approve(gatehouse.url, proposal, lead);
    expect(approved.status).toBe(200);
    version = approved.body.version;
    const active = await admin(gatehouse.url, 'GET', '/admin/policy');
    expect(active.body.document.rules).toEqual([expected.rule]);
    expect(active.body.document.cost_centers[COST_CENTER].dry_run).toBe(true);
  });

  it('nothing changes for developers: the upstream is asked for the requested model, headers say so', async () => {
    const before = upstream.requests.length;
    const turns = await playSessions(SESSIONS, 4, (index) => playCodexSession(gatehouse.url, KEY, `dry-${index}`, EXPENSIVE));
    requestIds = turns.map((turn) => turn.requestId);
    expect(turns).toHaveLength(SESSIONS * (TOOL_TURNS_PER_SESSION + 1));
    expect(turns.every((turn) => turn.status === 200 && turn.servedModel === EXPENSIVE && turn.policyVersion === String(version))).toBe(true);
    expect(upstream.requests.slice(before).map((entry) => entry.body.model)).toEqual(turns.map(() => EXPENSIVE));
  });

  it('spans carry the would-have decision: rule_id, rule_dry_run and the dry_run_decision text', async () => {
    const rows = await waitForRows<Record<string, unknown>>(
      gatehouse,
      `SELECT requested_model, served_model, rule_id, rule_dry_run, dry_run_decision, policy_version FROM gatehouse.spans WHERE request_id IN (${requestIds.map((id) => `'${id}'`).join(',')})`,
      requestIds.length,
    );
    expect(rows).toHaveLength(requestIds.length);
    for (const row of rows) {
      expect(row).toMatchObject({ requested_model: EXPENSIVE, served_model: EXPENSIVE, rule_id: expected.rule.id, rule_dry_run: true, policy_version: version });
      expect(row.dry_run_decision).toBe(`rule ${expected.rule.id} would route ${EXPENSIVE} -> ${CHEAPER}`);
    }
  });

  it('would-have savings price exactly the tagged turns: observed cost at the requested model, would-have cost at the target', async () => {
    const policy = (await admin(gatehouse.url, 'GET', '/admin/policy')).body.document;
    const savings = await computeWouldHaveSavings({ clickhouse: gatehouse.clickhouse, database: 'gatehouse', policy, rule: expected.rule });
    const turns = requestIds.length;
    const observed = (turns * (FAKE_USAGE.input_tokens * 1.25 + FAKE_USAGE.output_tokens * 10)) / 1e6;
    const wouldHave = (turns * (FAKE_USAGE.input_tokens * 0.25 + FAKE_USAGE.output_tokens * 2)) / 1e6;
    expect(savings).toMatchObject({ ruleId: expected.rule.id, routeTo: CHEAPER, turns, observedDays: 1 });
    expect(savings.byServedModel).toEqual([
      expect.objectContaining({ servedModel: EXPENSIVE, turns, inputTokens: turns * FAKE_USAGE.input_tokens, outputTokens: turns * FAKE_USAGE.output_tokens, cachedInputTokens: 0 }),
    ]);
    expect(savings.observedCostUsd).toBeCloseTo(observed, 9);
    expect(savings.wouldHaveCostUsd).toBeCloseTo(wouldHave, 9);
    expect(savings.savingUsd).toBeCloseTo(observed - wouldHave, 9);
    expect(savings.monthlySavingUsd).toBeCloseTo((observed - wouldHave) * DAYS_PER_MONTH, 9);
    console.log(`would-have savings of ${expected.rule.id} on ${turns} dry-run turns: observed $${savings.observedCostUsd.toFixed(4)}, would have cost $${savings.wouldHaveCostUsd.toFixed(4)}, saving $${savings.monthlySavingUsd.toFixed(2)}/month`);
  });

  it('the rollback guard has nothing to judge in dry run: no treatment turns, no rollback', async () => {
    const guard = await admin(gatehouse.url, 'POST', '/admin/optimizer/guard');
    expect(guard.status).toBe(200);
    expect(guard.body.checks).toHaveLength(1);
    for (const check of guard.body.checks) {
      expect(check).toMatchObject({ ruleId: expected.rule.id, rolledBack: false, result: { decision: 'continue' } });
      expect(check.result.numbers.treatment.n).toBe(0);
    }
    expect((await admin(gatehouse.url, 'GET', '/admin/policy')).body.version).toBe(version);
  });
});
