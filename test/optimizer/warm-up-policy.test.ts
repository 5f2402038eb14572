import { beforeAll, describe, expect, it } from 'vitest';
import { PolicySchema, type PolicyDocument } from '../../shared/policy/policy-schema.ts';
import { optimizeSegments } from '../../optimizer/optimize-segments.ts';
import type { InsufficientDataResult, OptimizerResult } from '../../optimizer/proposal.ts';
import { SegmentAccumulator, type SegmentAggregate } from '../../optimizer/segment-aggregate.ts';
import { SIMULATED_MODELS, simulateTraffic, simulationPolicy } from '../../optimizer/simulate.ts';

/** Warm-up comes from the policy (global `optimizer.warm_up`, overridden per cost center), and the report says what is missing. */
function withOptimizer(base: PolicyDocument, global: Record<string, unknown> | undefined, perCenter: Record<string, Record<string, unknown>> = {}): PolicyDocument {
  const centers = Object.fromEntries(Object.entries(base.cost_centers).map(([name, center]) => [name, perCenter[name] ? { ...center, optimizer: perCenter[name] } : center]));
  return PolicySchema.parse({ ...base, cost_centers: centers, ...(global ? { optimizer: global } : {}) });
}

const asInsufficient = (result: OptimizerResult | undefined): InsufficientDataResult => {
  expect(result?.status).toBe('insufficient_data');
  return result as InsufficientDataResult;
};

describe('warm-up from the policy', () => {
  let aggregates: SegmentAggregate[];
  let observedDays: Record<string, number>;
  const base = simulationPolicy({ qualityRegressionLimit: 0.02 });

  beforeAll(() => {
    // A small organisation: 8 developers over 10 days (a few hundred turns per cost center).
    const accumulator = new SegmentAccumulator();
    simulateTraffic({ seed: 5, developers: 8, days: 10 }, { turn: (span, scores) => accumulator.add(span, scores.length === 0 ? undefined : scores.reduce((total, score) => total + score.value, 0) / scores.length) });
    aggregates = accumulator.aggregates();
    observedDays = accumulator.observedDays();
  });

  it('with the defaults, a small cost center is told exactly what it lacks, per model', () => {
    const [result] = optimizeSegments(aggregates, base, { observedDays, seed: 1, costCenter: 'mobile' });
    const insufficient = asInsufficient(result);
    const target = insufficient.missing.find((entry) => entry.requirement === 'target_scored_turns');
    // The cheaper model with the most scored turns so far (the one closest to ready).
    expect([SIMULATED_MODELS.cheaper, SIMULATED_MODELS.cheapest]).toContain(target?.model);
    expect(target?.message).toBe(`needs ${200 - (target?.have ?? 0)} more scored turns on ${target?.model} (have ${target?.have} of 200)`);
    expect(target?.need).toBe(200);
    expect((target?.need ?? 0) - (target?.have ?? 0)).toBeGreaterThan(0);
    const turns = insufficient.missing.find((entry) => entry.requirement === 'turns');
    expect(turns?.message).toBe(`needs ${1000 - (turns?.have ?? 0)} more turns (have ${turns?.have} of 1000)`);
    expect(insufficient.summary).toContain(target?.message);
  });

  it('a cost center whose owner lowered its warm-up gets past it; the global setting applies to the others', () => {
    const lowered = withOptimizer(base, { warm_up: { min_days: 30 } }, { mobile: { warm_up: { min_days: 5, min_turns: 100, min_scored_turns: 20 } } });
    const results = optimizeSegments(aggregates, lowered, { observedDays, seed: 1 });
    const mobile = results.find((result) => result.costCenter === 'mobile');
    expect(mobile?.status).not.toBe('insufficient_data');
    for (const result of results.filter((entry) => entry.costCenter !== 'mobile')) {
      const insufficient = asInsufficient(result);
      expect(insufficient.missing[0]).toMatchObject({ requirement: 'observed_days', have: 10, need: 30, message: 'needs 20 more day(s) of traffic (have 10 of 30)' });
    }
  });

  it('min_scored_turns applies to both arms', () => {
    const strict = withOptimizer(base, { warm_up: { min_days: 1, min_turns: 1, min_scored_turns: 100_000 } });
    const insufficient = asInsufficient(optimizeSegments(aggregates, strict, { observedDays, seed: 1, costCenter: 'platform' })[0]);
    expect(insufficient.missing.map((entry) => [entry.requirement, entry.need, entry.model])).toEqual([
      ['baseline_scored_turns', 100_000, SIMULATED_MODELS.expensive],
      ['target_scored_turns', 100_000, expect.stringMatching(/^gpt-5\.1-(mini|nano)$/)],
    ]);
  });
});
