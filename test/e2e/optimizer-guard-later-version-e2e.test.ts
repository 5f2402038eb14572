import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OptimizerProposal } from '../../optimizer/proposal.ts';
import { startFakeResponsesUpstream, type FakeResponsesUpstream } from '../helpers/fake-upstreams/codex-responses-upstream.ts';
import { startTestGatehouse, type TestGatehouse } from '../helpers/start-test-gatehouse.ts';
import { admin, approve, makeApprover, propose, startAlertReceiver, waitUntil, type AlertReceiver } from './helpers/e2e-client.ts';
import {
  CHEAPER,
  EXPENSIVE,
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
 * Issue 8, the guard after later approvals: an optimizer rule is approved (version 2), then an
 * unrelated human change for another cost center (version 3). The rule's regression must still be
 * caught, and the revert must take out only the rule, keeping version 3's change in force.
 * History from the simulator (optimizer/simulate.ts); the regression is real traffic scored by the
 * evaluator. Here the guard runs on its timer (`optimizer.guard_interval_seconds: 1`), as in production.
 */

const COST_CENTER = 'platform';
const KEY = 'vk_later_platform';
const platformLead = makeApprover('platform-lead', [COST_CENTER]);
const dataLead = makeApprover('data-lead', ['data-eng']);
const now = Date.now();
const zone = middayZone(now);
const historyBase: Omit<HistoryOptions, 'seed'> = { developers: 100, days: 21, offsetHours: zone.offsetHours, nowMillis: now };

describe('rollback guard when other changes were approved on top of the optimizer rule (issue 8)', () => {
  let upstream: FakeResponsesUpstream;
  let alerts: AlertReceiver;
  let gatehouse: TestGatehouse;
  let expected: OptimizerProposal;
  let sessions = 0;
  let firstRun: { id: string; digest: string; cost_centers: string[]; summary: string }[] = [];
  const session = () => playCodexSession(gatehouse.url, KEY, `later-${(sessions += 1)}`, EXPENSIVE);

  beforeAll(async () => {
    alerts = await startAlertReceiver();
    upstream = await startFakeResponsesUpstream((body) => codexFakeAnswer(body));
    const policy = loopPolicy({ timezone: zone.timezone, keys: [{ key: KEY, developer: 'pat', cost_center: COST_CENTER }], approvers: [platformLead.policyEntry(), dataLead.policyEntry()], webhookUrl: alerts.url });
    const picked = pickHistorySeed(historyBase, policy, COST_CENTER, 42);
    expected = picked.proposal;
    gatehouse = await startTestGatehouse({
      providers: { openai: { type: 'openai', base_url: upstream.url, api_key: 'sk_test' } },
      policy,
      extraConfig: { evaluator: { session_idle_seconds: 1 }, optimizer: { seed: 42, interval_seconds: 86_400, guard_interval_seconds: 1 } },
    });
    await insertHistory(gatehouse.clickhouse, 'gatehouse', { ...historyBase, seed: picked.seed });
  }, 120_000);

  afterAll(async () => {
    await gatehouse?.stop();
    await upstream?.close();
    await alerts?.close();
  });

  it('approves the optimizer rule (version 2), then a data-eng budget change (version 3)', async () => {
    // A scheduled-style run over every cost center: one proposal each where the data supports one.
    const run = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', {});
    firstRun = run.body.proposals;
    expect(firstRun.length).toBeGreaterThanOrEqual(2);
    const platform = firstRun.find((proposal) => proposal.cost_centers.includes(COST_CENTER))!;
    expect(platform.summary).toBe(expected.summary);
    expect((await approve(gatehouse.url, platform, platformLead)).body.version).toBe(2);
    const budget = await propose(gatehouse.url, { cost_centers: { 'data-eng': { budgets: { developer: { daily_usd: 40 } } } } }, 'data-eng: daily developer budget');
    expect((await approve(gatehouse.url, budget, dataLead)).body.version).toBe(3);
    const turns = await session();
    expect(turns.every((turn) => turn.servedModel === CHEAPER && turn.policyVersion === '3')).toBe(true);
  });

  it('the guard (on its timer) still watches the rule from version 2 and, on regression, takes out only the rule', async () => {
    const activeVersion = async () => (await admin(gatehouse.url, 'GET', '/admin/policy')).body.version as number;
    let served = 0;
    for (let wave = 0; wave < 10 && (await activeVersion()) === 3; wave += 1) {
      served += (await playSessions(10, 5, () => session())).filter((turn) => turn.servedModel === CHEAPER).length;
      await waitUntil('a guard look', async () => (await activeVersion()) !== 3, 2_500, 100).catch(() => undefined);
    }
    expect(served).toBeGreaterThanOrEqual(200);
    // On a loaded machine the evaluator may still be scoring the last waves: give the guard's timer its looks.
    await waitUntil('the guard to act on the scored turns', async () => (await activeVersion()) !== 3, 60_000, 250).catch(() => undefined);
    if ((await activeVersion()) !== 4) {
      // Say what the guard had to go on when it did not act.
      const [scored] = await (await gatehouse.clickhouse.query({ query: `SELECT count() AS turns, avg(value) AS mean FROM gatehouse.eval_scores FINAL WHERE level = 'turn' AND rule_id = '${expected.rule.id}'`, format: 'JSONEachRow' })).json<Record<string, unknown>>();
      expect.fail(`no rollback after ${served} routed turns; scored rows of the rule: ${JSON.stringify(scored)}; versions: ${JSON.stringify((await admin(gatehouse.url, 'GET', '/admin/policy/versions')).body)}`);
    }

    const policy = await admin(gatehouse.url, 'GET', '/admin/policy');
    expect(policy.body).toMatchObject({ version: 4, refusal: null });
    expect(policy.body.document.rules).toEqual([]);
    expect(policy.body.document.cost_centers['data-eng'].budgets).toEqual({ developer: { daily_usd: 40 } });

    const turns = await session();
    expect(turns.every((turn) => turn.servedModel === EXPENSIVE && turn.policyVersion === '4')).toBe(true);
    expect(upstream.requests.at(-1)?.body.model).toBe(EXPENSIVE);

    await waitUntil('policy.rolled_back in the audit export', async () => {
      await gatehouse.governance.audit.flush();
      await gatehouse.writer.flush();
      return (await admin(gatehouse.url, 'GET', '/admin/audit')).text.includes('"policy.rolled_back"');
    });
    const events = (await admin(gatehouse.url, 'GET', '/admin/audit')).text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
    const event = events.find((entry) => entry.action === 'policy.rolled_back')!;
    const details = typeof event.details === 'string' ? JSON.parse(event.details) : event.details;
    expect(event).toMatchObject({ actor: 'system', cost_center: COST_CENTER, policy_version: 4 });
    expect(details).toMatchObject({ from_version: 3, version: 4, rule_id: expected.rule.id, automatic: true, numbers: { reason: 'regression_detected' } });
    console.log(`timer guard: rollback at ${details.numbers.treatment.n} treatment / ${details.numbers.baseline.n} baseline scored turns (${served} routed turns sent)`);
    expect(details.numbers.treatment.n).toBeGreaterThanOrEqual(200);
    expect(details.numbers.treatment.n).toBeLessThan(details.numbers.maxSamples);
    expect((await admin(gatehouse.url, 'GET', '/admin/audit/verify')).body).toMatchObject({ ok: true });
    await waitUntil('the rollback webhook', () => alerts.alerts.some((alert) => alert.event === 'policy.rolled_back'));
    expect(alerts.alerts.find((alert) => alert.event === 'policy.rolled_back')).toMatchObject({ cost_center: COST_CENTER, rule_id: expected.rule.id, from_version: 3, version: 4, rule_version: 2 });
  }, 150_000);

  it('the next run rejects the optimizer proposals the approvals made stale (superseded) and proposes again against the active version', async () => {
    const others = firstRun.filter((proposal) => !proposal.cost_centers.includes(COST_CENTER));
    // Approval needs the proposal's base to be the active version: these can no longer go through.
    const refused = await approve(gatehouse.url, others[0]!, makeApprover('nobody', ['*']));
    expect(refused.status).toBeGreaterThanOrEqual(400);
    const run = await admin(gatehouse.url, 'POST', '/admin/optimizer/run', {});
    expect(run.status).toBe(200);
    const all = (await admin(gatehouse.url, 'GET', '/admin/policy/proposals')).body.proposals as Record<string, any>[];
    for (const stale of others) {
      expect(all.find((proposal) => proposal.id === stale.id)).toMatchObject({ status: 'rejected', decided_by: 'optimizer', decision_reason: expect.stringContaining('superseded: made against version 1, version 4 is active') });
    }
    const pending = all.filter((proposal) => proposal.status === 'pending');
    expect(pending.length).toBe(run.body.proposals.length);
    expect(pending.every((proposal) => proposal.source === 'optimizer' && proposal.base_version === 4 && !proposal.cost_centers.includes(COST_CENTER))).toBe(true);
    expect(pending.length).toBeGreaterThanOrEqual(1);
    await waitUntil('policy.rejected by the optimizer in the audit export', async () => {
      await gatehouse.governance.audit.flush();
      await gatehouse.writer.flush();
      const events = (await admin(gatehouse.url, 'GET', '/admin/audit')).text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, any>);
      return events.filter((event) => event.action === 'policy.rejected' && event.actor === 'optimizer').length === others.length;
    });
  });
});
