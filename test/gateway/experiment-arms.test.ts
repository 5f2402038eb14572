import { describe, expect, it } from 'vitest';
import { PolicySchema, type PolicyDocument } from '../../shared/policy/policy-schema.ts';
import { evaluatePolicy, type BudgetStage, type ExplorationPlan, type RequestFacts } from '../../gateway/policy/evaluate-policy.ts';
import { optimizerSettingsOf, sessionDraw } from '../../shared/policy/optimizer-settings.ts';

function policy(center: Record<string, unknown> = {}, top: Record<string, unknown> = {}): PolicyDocument {
  return PolicySchema.parse({
    models: {
      big: { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1.25, output: 10 } },
      mini: { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, output: 2 } },
      nano: { provider: 'openai', upstream: 'gpt-5.1-nano', price: { input: 0.05, output: 0.4 } },
    },
    cost_centers: { cc: { allowed_models: ['big', 'mini'], ...center } },
    ...top,
  });
}

const facts = (extra: Partial<RequestFacts> = {}): RequestFacts => ({
  costCenter: 'cc',
  developer: 'dev',
  tags: [],
  requestedModel: 'big',
  inputTokenEstimate: 1000,
  clock: { hour: 10, day: 'tue' },
  budgetStage: 'ok',
  trailingToolFailures: 0,
  ...extra,
});

const optimizerRule = { id: 'opt-cc-mini', cost_centers: ['cc'], when: { requested_models: ['big'] }, route_to: 'mini', proposal_id: 'opt_1234' };
const sessions = Array.from({ length: 20_000 }, (_, index) => `ses-${index.toString(36)}-${(index * 7919).toString(16)}`);

describe('concurrent holdout of an optimizer rule', () => {
  it('keeps the old route for about holdout_share of sessions, by session, and marks both arms', () => {
    const doc = policy({ optimizer: { holdout_share: 0.1 } }, { rules: [optimizerRule] });
    let holdout = 0;
    for (const sessionId of sessions) {
      const decision = evaluatePolicy(doc, facts({ sessionId }));
      if (decision.kind !== 'route') throw new Error('expected a route');
      expect(decision.ruleId).toBe('opt-cc-mini');
      if (decision.experimentArm === 'holdout') {
        holdout += 1;
        expect(decision.servedModel).toBe('big');
      } else {
        expect(decision).toMatchObject({ experimentArm: 'treatment', servedModel: 'mini' });
      }
      // A session never switches arm: every later turn draws the same.
      const later = evaluatePolicy(doc, facts({ sessionId, inputTokenEstimate: 5000, clock: { hour: 16, day: 'fri' } }));
      expect(later.kind === 'route' && later.experimentArm).toBe(decision.experimentArm);
    }
    expect(holdout / sessions.length).toBeGreaterThan(0.09);
    expect(holdout / sessions.length).toBeLessThan(0.11);
  });

  it('defaults to 5%, follows the global setting, lets the cost center override it, and leaves human rules alone', () => {
    expect(optimizerSettingsOf(policy(), 'cc').holdoutShare).toBe(0.05);
    expect(optimizerSettingsOf(policy({}, { optimizer: { holdout_share: 0.2 } }), 'cc').holdoutShare).toBe(0.2);
    expect(optimizerSettingsOf(policy({ optimizer: { holdout_share: 0 } }, { optimizer: { holdout_share: 0.2 } }), 'cc').holdoutShare).toBe(0);
    const human = policy({ optimizer: { holdout_share: 0.5 } }, { rules: [{ ...optimizerRule, proposal_id: undefined }] });
    for (const sessionId of sessions.slice(0, 500)) expect(evaluatePolicy(human, facts({ sessionId }))).toMatchObject({ servedModel: 'mini', experimentArm: '' });
    const none = policy({ optimizer: { holdout_share: 0 } }, { rules: [optimizerRule] });
    for (const sessionId of sessions.slice(0, 500)) expect(evaluatePolicy(none, facts({ sessionId }))).toMatchObject({ servedModel: 'mini', experimentArm: 'treatment' });
  });

  it('a dry-run rule has no arms', () => {
    const doc = policy({ optimizer: { holdout_share: 0.5 } }, { rules: [{ ...optimizerRule, dry_run: true }] });
    for (const sessionId of sessions.slice(0, 200)) expect(evaluatePolicy(doc, facts({ sessionId }))).toMatchObject({ servedModel: 'big', experimentArm: '', ruleDryRun: true });
  });
});

describe('the optimizer exploration on the request path', () => {
  const plan: ExplorationPlan = { costCenter: 'cc', requestedModel: 'big', routeTo: 'mini', share: 0.05, candidate: 'big->mini' };

  it('never exceeds the cap, whatever the plan asks, and draws by session', () => {
    const doc = policy({ optimizer: { exploration_share: 0.02 } });
    let explored = 0;
    for (const sessionId of sessions) {
      const decision = evaluatePolicy(doc, facts({ sessionId, explorationPlan: { ...plan, share: 1 } }));
      if (decision.kind !== 'route') throw new Error('expected a route');
      if (decision.experimentArm === 'exploration') {
        explored += 1;
        expect(decision).toMatchObject({ servedModel: 'mini', exploredFrom: 'big', ruleId: 'exploration' });
        expect(sessionDraw('exploration:cc', sessionId)).toBeLessThan(0.02);
      }
    }
    expect(explored / sessions.length).toBeLessThanOrEqual(0.02 + 0.003);
    expect(explored / sessions.length).toBeGreaterThan(0.015);
    // The schema refuses more than 5%; the resolver caps it again for documents built in code.
    expect(() => policy({ optimizer: { exploration_share: 0.06 } })).toThrow(/capped at 0.05/);
    expect(optimizerSettingsOf({ cost_centers: {}, optimizer: { exploration_share: 0.5 } }, 'cc').explorationShare).toBe(0.05);
  });

  it('is off by default (exploration_share 0)', () => {
    const doc = policy();
    for (const sessionId of sessions.slice(0, 2000)) expect(evaluatePolicy(doc, facts({ sessionId, explorationPlan: plan }))).toMatchObject({ servedModel: 'big', experimentArm: '' });
  });

  it('never routes outside the allow-list, never past budget stage ok, never in dry run', () => {
    const notAllowed = policy({ optimizer: { exploration_share: 0.05 } });
    const stages: BudgetStage[] = ['alert', 'downgrade'];
    for (const sessionId of sessions.slice(0, 4000)) {
      const outside = evaluatePolicy(notAllowed, facts({ sessionId, explorationPlan: { ...plan, routeTo: 'nano' } }));
      expect(outside).toMatchObject({ kind: 'route', servedModel: 'big', experimentArm: '' });
      for (const budgetStage of stages) expect(evaluatePolicy(notAllowed, facts({ sessionId, budgetStage, explorationPlan: plan }))).toMatchObject({ servedModel: 'big', experimentArm: '' });
    }
    const dry = policy({ dry_run: true, optimizer: { exploration_share: 0.05 } });
    const drawn = sessions.filter((sessionId) => sessionDraw('exploration:cc', sessionId) < 0.05).slice(0, 50);
    expect(drawn.length).toBe(50);
    for (const sessionId of drawn) {
      const decision = evaluatePolicy(dry, facts({ sessionId, explorationPlan: plan }));
      expect(decision).toMatchObject({ servedModel: 'big', experimentArm: '' });
      expect(decision.dryRunNotes).toContain('exploration would route big -> mini (candidate big->mini)');
    }
  });

  it('leaves turns a rule or another cost center owns alone', () => {
    const doc = policy({ optimizer: { exploration_share: 0.05, holdout_share: 0 } }, { rules: [optimizerRule] });
    for (const sessionId of sessions.slice(0, 4000)) expect(evaluatePolicy(doc, facts({ sessionId, explorationPlan: { ...plan, routeTo: 'big', requestedModel: 'big' } }))).toMatchObject({ experimentArm: 'treatment' });
    const other = policy({ optimizer: { exploration_share: 0.05 } });
    for (const sessionId of sessions.slice(0, 4000)) expect(evaluatePolicy(other, facts({ sessionId, explorationPlan: { ...plan, costCenter: 'elsewhere' } }))).toMatchObject({ experimentArm: '' });
  });
});

describe('lowered reasoning effort in the decision', () => {
  const effortPlan: ExplorationPlan = { costCenter: 'cc', requestedModel: 'big', routeTo: 'big', share: 0.05, candidate: 'big->big@medium', reasoningEffort: 'medium' };
  const drawn = sessions.filter((sessionId) => sessionDraw('exploration:cc', sessionId) < 0.05).slice(0, 40);

  it('an effort candidate serves the drawn sessions the lower effort, only when the client asked for more', () => {
    const doc = policy({ optimizer: { exploration_share: 0.05 } });
    for (const sessionId of drawn) {
      expect(evaluatePolicy(doc, facts({ sessionId, explorationPlan: effortPlan, reasoningEffort: 'high' }))).toMatchObject({ servedModel: 'big', reasoningEffort: 'medium', experimentArm: 'exploration', ruleId: 'exploration', exploredFrom: undefined });
      for (const reasoningEffort of ['medium', 'low', undefined]) expect(evaluatePolicy(doc, facts({ sessionId, explorationPlan: effortPlan, reasoningEffort }))).toMatchObject({ reasoningEffort: undefined, experimentArm: '' });
      for (const budgetStage of ['alert', 'downgrade'] as const) expect(evaluatePolicy(doc, facts({ sessionId, budgetStage, explorationPlan: effortPlan, reasoningEffort: 'high' }))).toMatchObject({ reasoningEffort: undefined, experimentArm: '' });
    }
    // Dry run: noted, never served.
    const dry = evaluatePolicy(policy({ dry_run: true, optimizer: { exploration_share: 0.05 } }), facts({ sessionId: drawn[0], explorationPlan: effortPlan, reasoningEffort: 'high' }));
    expect(dry).toMatchObject({ reasoningEffort: undefined, experimentArm: '' });
    expect(dry.dryRunNotes).toContain('exploration would route big -> big at effort medium (asked high) (candidate big->big@medium)');
  });

  it('an approved rule with reasoning_effort lowers it on the turns it routes, and a dry-run rule only notes it', () => {
    const rule = { ...optimizerRule, route_to: 'big', reasoning_effort: 'low' };
    const doc = policy({ optimizer: { holdout_share: 0 } }, { rules: [rule] });
    expect(evaluatePolicy(doc, facts({ reasoningEffort: 'xhigh' }))).toMatchObject({ servedModel: 'big', reasoningEffort: 'low', experimentArm: 'treatment' });
    expect(evaluatePolicy(doc, facts({ reasoningEffort: 'minimal' }))).toMatchObject({ reasoningEffort: undefined, experimentArm: 'treatment' });
    const dry = evaluatePolicy(policy({}, { rules: [{ ...rule, dry_run: true }] }), facts({ reasoningEffort: 'high' }));
    expect(dry).toMatchObject({ reasoningEffort: undefined });
    expect(dry.dryRunNotes).toContain('rule opt-cc-mini would route big -> big at effort low');
    expect(() => policy({}, { rules: [{ ...rule, reasoning_effort: 'turbo' }] })).toThrow();
  });
});
