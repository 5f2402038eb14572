import { describe, expect, it } from 'vitest';
import { PolicySchema, type PolicyDocument } from '../../shared/policy/policy-schema.ts';
import { evaluatePolicy, type RequestFacts } from '../../gateway/policy/evaluate-policy.ts';
import { clockIn } from '../../gateway/policy/match-rule.ts';

function policy(overrides: Record<string, unknown> = {}, center: Record<string, unknown> = {}): PolicyDocument {
  return PolicySchema.parse({
    models: {
      big: { provider: 'openai', upstream: 'gpt-5.5', price: { input: 1.25, output: 10 } },
      mini: { provider: 'openai', upstream: 'gpt-5.1-mini', price: { input: 0.25, output: 2 } },
      claude: { provider: 'anthropic', upstream: 'claude-x', price: { input: 3, output: 15 } },
      nano: { provider: 'openai', upstream: 'gpt-5.1-nano', price: { input: 0.05, output: 0.4 } },
    },
    cost_centers: { cc: { allowed_models: ['big', 'mini', 'claude'], ...center } },
    ...overrides,
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

describe('evaluatePolicy', () => {
  it('routes an allowed model to itself with no notes', () => {
    expect(evaluatePolicy(policy(), facts())).toMatchObject({ kind: 'route', servedModel: 'big', chain: [{ model: 'big' }], dryRunNotes: [] });
  });

  it('denies a model outside the allow-list, naming the cost center, the model and the allowed ones', () => {
    const decision = evaluatePolicy(policy(), facts({ requestedModel: 'nano' }));
    expect(decision).toMatchObject({ kind: 'deny', code: 'model_not_allowed', param: 'model' });
    if (decision.kind !== 'deny') throw new Error('expected a denial');
    expect(decision.message).toContain('"nano"');
    expect(decision.message).toContain('"cc"');
    expect(decision.message).toContain('big, mini, claude');
  });

  it('denies a model of a provider the cost center does not allow', () => {
    const decision = evaluatePolicy(policy({}, { allowed_providers: ['openai'] }), facts({ requestedModel: 'claude' }));
    expect(decision).toMatchObject({ kind: 'deny', code: 'provider_not_allowed' });
  });

  it('in dry run logs "would deny" and serves the request', () => {
    const decision = evaluatePolicy(policy({}, { dry_run: true, allowed_models: ['big', 'mini', 'claude'], allowed_providers: ['openai'] }), facts({ requestedModel: 'claude' }));
    expect(decision).toMatchObject({ kind: 'route', servedModel: 'claude', dryRunNotes: ['would deny provider_not_allowed'] });
    const whole = evaluatePolicy(policy({ dry_run: true }), facts({ budgetStage: 'pause' }));
    expect(whole).toMatchObject({ kind: 'route', dryRunNotes: ['would deny budget_exhausted'] });
  });

  it('cannot serve an unknown model even in dry run', () => {
    expect(evaluatePolicy(policy({ dry_run: true }), facts({ requestedModel: 'gpt-4o' }))).toMatchObject({ kind: 'deny', code: 'model_not_allowed' });
  });

  it('stops a session whose last tool calls failed more often than the retry cap', () => {
    expect(evaluatePolicy(policy(), facts({ trailingToolFailures: 3 }))).toMatchObject({ kind: 'route' });
    const decision = evaluatePolicy(policy(), facts({ trailingToolFailures: 4 }));
    expect(decision).toMatchObject({ kind: 'deny', code: 'retry_limit_exceeded' });
    expect(evaluatePolicy(policy({}, { retry_cap: 1 }), facts({ trailingToolFailures: 2 }))).toMatchObject({ code: 'retry_limit_exceeded' });
    expect(evaluatePolicy(policy({}, { retry_cap: 0 }), facts({ trailingToolFailures: 0 }))).toMatchObject({ kind: 'route' });
    expect(evaluatePolicy(policy({}, { retry_cap: 0 }), facts({ trailingToolFailures: 1 }))).toMatchObject({ code: 'retry_limit_exceeded' });
    if (decision.kind === 'deny') expect(decision.message).toContain('retry cap of 3 for cost center "cc"');
  });

  it('pauses at the pause stage and downgrades at the downgrade stage only to an allowed target', () => {
    expect(evaluatePolicy(policy(), facts({ budgetStage: 'pause' }))).toMatchObject({ kind: 'deny', code: 'budget_exhausted' });
    expect(evaluatePolicy(policy({}, { downgrade: { big: 'mini' } }), facts({ budgetStage: 'downgrade' }))).toMatchObject({ servedModel: 'mini', downgradedFrom: 'big' });
    const skipped = evaluatePolicy(policy({}, { downgrade: { big: 'nano' } }), facts({ budgetStage: 'downgrade' }));
    expect(skipped).toMatchObject({ servedModel: 'big', downgradedFrom: undefined });
    expect(skipped.dryRunNotes[0]).toContain('skipped: target not allowed');
  });

  it('applies the first matching rule, honouring tokens, hours (wrapping midnight), days and stages', () => {
    const rules = [
      { id: 'night', when: { hours: [22, 6] }, route_to: 'claude' },
      { id: 'small', when: { requested_models: ['big'], input_tokens: { max: 8000 }, days: ['mon', 'tue'] }, route_to: 'mini' },
    ];
    const doc = policy({ rules });
    expect(evaluatePolicy(doc, facts())).toMatchObject({ servedModel: 'mini', ruleId: 'small', ruleDryRun: false });
    expect(evaluatePolicy(doc, facts({ inputTokenEstimate: 9000 }))).toMatchObject({ servedModel: 'big', ruleId: undefined });
    expect(evaluatePolicy(doc, facts({ clock: { hour: 23, day: 'tue' } }))).toMatchObject({ servedModel: 'claude', ruleId: 'night' });
    expect(evaluatePolicy(doc, facts({ clock: { hour: 3, day: 'sat' } }))).toMatchObject({ servedModel: 'claude', ruleId: 'night' });
    expect(evaluatePolicy(doc, facts({ clock: { hour: 10, day: 'sat' } }))).toMatchObject({ servedModel: 'big' });
  });

  it('records a dry-run rule without changing the route', () => {
    const decision = evaluatePolicy(policy({ rules: [{ id: 'r1', route_to: 'mini', dry_run: true }] }), facts());
    expect(decision).toMatchObject({ servedModel: 'big', ruleId: 'r1', ruleDryRun: true, dryRunNotes: ['rule r1 would route big -> mini'] });
  });

  it('refuses a rule that routes into a disallowed model before any upstream hop', () => {
    const decision = evaluatePolicy(policy({ rules: [{ id: 'cheap', route_to: 'nano' }] }), facts());
    expect(decision).toMatchObject({ kind: 'deny', code: 'model_not_allowed' });
    if (decision.kind === 'deny') expect(decision.message).toContain('rule "cheap"');
  });

  it('keeps a sticky session on its fallback target and falls back to the original', () => {
    const decision = evaluatePolicy(policy(), facts({ affinityModel: 'claude' }));
    expect(decision).toMatchObject({ servedModel: 'claude', affinityFrom: 'big', chain: [{ model: 'claude' }, { model: 'big' }] });
  });

  it('marks fallbacks the cost center may not use instead of dropping them silently', () => {
    const decision = evaluatePolicy(policy({}, { fallback: { big: ['claude', 'nano'] }, allowed_providers: ['openai'] }), facts());
    if (decision.kind !== 'route') throw new Error('expected a route');
    expect(decision.chain.map((entry) => [entry.model, entry.deniedBy?.code])).toEqual([
      ['big', undefined],
      ['claude', 'provider_not_allowed'],
      ['nano', 'model_not_allowed'],
    ]);
  });

  it('explores an allowed model for the configured share of unrouted turns, and only allowed ones', () => {
    const doc = policy({}, { exploration: { rate: 0.1, models: ['mini', 'nano'] } });
    expect(evaluatePolicy(doc, facts({ explorationDraw: 0.05 }))).toMatchObject({ servedModel: 'mini', exploredFrom: 'big', ruleId: 'exploration', chain: [{ model: 'mini' }, { model: 'big' }] });
    expect(evaluatePolicy(doc, facts({ explorationDraw: 0.5 }))).toMatchObject({ servedModel: 'big', exploredFrom: undefined });
    const dry = evaluatePolicy(policy({ dry_run: true }, { exploration: { rate: 0.1, models: ['mini'] } }), facts({ explorationDraw: 0.01 }));
    expect(dry).toMatchObject({ servedModel: 'big', dryRunNotes: ['exploration would route big -> mini'] });
  });

  it('reads hours and weekdays in the cost center time zone', () => {
    const instant = new Date('2026-11-30T23:30:00Z');
    expect(clockIn('UTC', instant)).toEqual({ hour: 23, day: 'mon' });
    expect(clockIn('Europe/Oslo', instant)).toEqual({ hour: 0, day: 'tue' });
    expect(clockIn('America/Los_Angeles', instant)).toEqual({ hour: 15, day: 'mon' });
  });
});
