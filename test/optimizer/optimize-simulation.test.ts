import { beforeAll, describe, expect, it } from 'vitest';
import { PolicySchema } from '../../shared/policy/policy-schema.ts';
import { optimizeSegments, type OptimizerProgress } from '../../optimizer/optimize-segments.ts';
import type { OptimizerProposal, OptimizerResult } from '../../optimizer/proposal.ts';
import { enumerateCandidates, type RuleCandidate } from '../../optimizer/search-space.ts';
import { INPUT_TOKEN_EDGES, SegmentAccumulator, type SegmentAggregate } from '../../optimizer/segment-aggregate.ts';
import { SIMULATED_COST_CENTERS, SIMULATED_MODELS, SimulationTruth, simulateTraffic, simulationPolicy } from '../../optimizer/simulate.ts';

/** Mean of a turn's turn-level scores, as the aggregate SQL computes it. */
function turnQuality(scores: readonly { value: number }[]): number | undefined {
  return scores.length === 0 ? undefined : scores.reduce((total, score) => total + score.value, 0) / scores.length;
}

function simulate(options: Parameters<typeof simulateTraffic>[0]) {
  const accumulator = new SegmentAccumulator();
  const summary = simulateTraffic(options, { turn: (span, scores) => accumulator.add(span, turnQuality(scores)) });
  return { summary, aggregates: accumulator.aggregates(), observedDays: accumulator.observedDays() };
}

/** The candidate a proposal's rule stands for, to ask the ground truth about it. */
function candidateOf(proposal: OptimizerProposal): RuleCandidate {
  const hours = proposal.math.hours;
  return {
    pairIndex: 0,
    thresholdIndex: INPUT_TOKEN_EDGES.indexOf(proposal.math.thresholdTokens),
    startHour: hours ? hours[0] : 0,
    lengthHours: hours ? (hours[1] - hours[0] + 24) % 24 || 24 : 24,
    days: proposal.math.days,
  };
}

function asProposal(result: OptimizerResult | undefined): OptimizerProposal {
  expect(result?.status).toBe('proposal');
  return result as OptimizerProposal;
}

const policy = simulationPolicy({ qualityRegressionLimit: 0.02 });
const LIMIT = 0.02;

describe('optimizer on simulated traffic with a known ground truth', () => {
  let data: ReturnType<typeof simulate>;
  let truth: SimulationTruth;
  let results: OptimizerResult[];
  const progress: OptimizerProgress[] = [];

  beforeAll(() => {
    // Three weeks, 300 developers in four cost centers.
    data = simulate({ seed: 7, developers: 300, days: 21 });
    // Ground truth = what the rule does on a fresh month of traffic from the same organisation.
    truth = new SimulationTruth(28);
    simulateTraffic({ seed: 1007, organisationSeed: 7, developers: 300, days: 28 }, { turn: (_span, _scores, facts) => truth.add(facts) });
    results = optimizeSegments(data.aggregates, policy, { observedDays: data.observedDays, seed: 42, onProgress: (entry) => progress.push(entry) });
  });

  it('simulates a few hundred developers over three weeks', () => {
    expect(data.summary.turns).toBeGreaterThan(150_000);
    expect(data.observedDays).toEqual(Object.fromEntries(SIMULATED_COST_CENTERS.map((name) => [name, 21])));
  });

  it('lands the threshold on the true optimum and predicts saving and regression within 20%', () => {
    expect(results.map((result) => result.costCenter)).toEqual([...SIMULATED_COST_CENTERS]);
    for (const result of results) {
      const proposal = asProposal(result);
      // The small model is worse everywhere: the mid model is the one to route to.
      expect(proposal.math.targetModel).toBe(SIMULATED_MODELS.cheaper);
      expect(proposal.math.requestedModel).toBe(SIMULATED_MODELS.expensive);
      // True optimum: brute force over the whole search space with the true quality function.
      let optimum = { saving: 0, thresholdIndex: -1 };
      for (const candidate of enumerateCandidates(1)) {
        const outcome = truth.evaluate(proposal.costCenter, SIMULATED_MODELS.cheaper, candidate);
        if (outcome.regression <= LIMIT && outcome.monthlySavingUsd > optimum.saving) optimum = { saving: outcome.monthlySavingUsd, thresholdIndex: candidate.thresholdIndex };
      }
      const found = candidateOf(proposal);
      expect(Math.abs(found.thresholdIndex - optimum.thresholdIndex), `${proposal.costCenter}: found ${proposal.math.thresholdTokens}, true ${INPUT_TOKEN_EDGES[optimum.thresholdIndex]}`).toBeLessThanOrEqual(1);
      const actual = truth.evaluate(proposal.costCenter, SIMULATED_MODELS.cheaper, found);
      expect(Math.abs(proposal.math.predictedMonthlySavingUsd - actual.monthlySavingUsd) / actual.monthlySavingUsd).toBeLessThan(0.2);
      expect(Math.abs(proposal.math.predictedRegression.mean - actual.regression) / actual.regression).toBeLessThan(0.2);
      // Safe: the rule's true regression respects the limit, and the saving is most of the optimum's.
      expect(actual.regression).toBeLessThanOrEqual(LIMIT);
      expect(actual.monthlySavingUsd).toBeGreaterThan(0.8 * optimum.saving);
      expect(proposal.math.predictedRegression.upperBound).toBeLessThanOrEqual(LIMIT);
    }
  });

  it('returns a proposal an approver can act on: a schema-valid diff, its math and a one-line summary', () => {
    const proposal = asProposal(results.find((result) => result.costCenter === 'finance-squad'));
    expect(proposal.diff).toEqual([{ op: 'add', path: '/rules/-', value: proposal.rule }]);
    expect(proposal.rule.proposal_id).toBe(proposal.proposalId);
    expect(proposal.rule.cost_centers).toEqual(['finance-squad']);
    expect(proposal.rule.when.requested_models).toEqual([SIMULATED_MODELS.expensive]);
    expect(proposal.rule.when.input_tokens?.max).toBe(proposal.math.thresholdTokens);
    expect(() => PolicySchema.parse(proposal.document)).not.toThrow();
    expect(proposal.document.rules.at(-1)).toEqual(proposal.rule);
    expect(proposal.summary).toMatch(/^for finance-squad, route gpt-5\.1 turns under \d+(\.\d)?K input tokens to gpt-5\.1-mini( between \d\d:00 and \d\d:00)?( on weekdays| on weekends)?: regression ≤ \d+\.\d% \(95% bound\), saving \$[\d,]+\/month$/);
    const math = proposal.math;
    expect(math.samples.baselineScoredTurns).toBeGreaterThan(1000);
    expect(math.samples.targetScoredTurns).toBeGreaterThan(200);
    expect(math.baselineQuality.lower).toBeLessThan(math.baselineQuality.mean);
    expect(math.predictedQuality.mean).toBeCloseTo(math.baselineQuality.mean - math.predictedRegression.mean, 10);
    expect(math.trafficShare).toBeGreaterThan(0);
    expect(math.trafficShare).toBeLessThan(1);
    expect(math.search.method).toBe('gaussian-process-expected-improvement');
    // Stored as JSON with the proposal: nothing may be lost on the way.
    expect(JSON.parse(JSON.stringify(proposal))).toEqual(proposal);
  });

  it('searches with a budget far below the size of the space and reports progress', () => {
    const space = enumerateCandidates(2).length;
    for (const result of results) expect(asProposal(result).math.search.evaluations).toBeLessThanOrEqual(80);
    expect(space).toBeGreaterThan(10_000);
    const financeSteps = progress.filter((entry) => entry.costCenter === 'finance-squad').map((entry) => entry.evaluation);
    expect(financeSteps).toEqual(Array.from({ length: 80 }, (_, index) => index + 1));
    expect(progress.at(-1)?.bestMonthlySavingUsd).toBeGreaterThan(0);
  });

  it('finds more saving than random search with the same budget (the surrogate earns its keep)', () => {
    const randomOnly = optimizeSegments(data.aggregates, policy, { observedDays: data.observedDays, seed: 42, initialEvaluations: 80 });
    for (const [index, result] of results.entries()) {
      const random = randomOnly[index];
      const randomSaving = random?.status === 'proposal' ? random.math.predictedMonthlySavingUsd : 0;
      expect(asProposal(result).math.predictedMonthlySavingUsd).toBeGreaterThan(randomSaving);
    }
  });

  it('is deterministic: same data and seed give an identical proposal', () => {
    const again = optimizeSegments(data.aggregates, policy, { observedDays: data.observedDays, seed: 42 });
    expect(again).toEqual(results);
    const oneCenter = optimizeSegments(data.aggregates, policy, { observedDays: data.observedDays, seed: 42, costCenter: 'mobile' });
    expect(oneCenter).toEqual(results.filter((result) => result.costCenter === 'mobile'));
  });

  it('lands on the same threshold whatever the search seed', () => {
    for (const seed of [1, 2]) {
      for (const result of optimizeSegments(data.aggregates, policy, { observedDays: data.observedDays, seed })) {
        expect(Math.abs(INPUT_TOKEN_EDGES.indexOf(asProposal(result).math.thresholdTokens) - INPUT_TOKEN_EDGES.indexOf(16_000))).toBeLessThanOrEqual(1);
      }
    }
  });

  it('does not propose a rule the policy already enforces', () => {
    const proposal = asProposal(results.find((result) => result.costCenter === 'mobile'));
    const active = { ...policy, rules: [{ ...proposal.rule, id: 'approved-earlier', proposal_id: 'opt_earlier' }] };
    const [again] = optimizeSegments(data.aggregates, active, { observedDays: data.observedDays, seed: 42, costCenter: 'mobile' });
    expect(again).toMatchObject({ status: 'no_improvement', reason: 'already_in_policy' });
  });

  it('borrows strength from other cost centers when a cost center has no exploration data of its own', () => {
    const withoutOwnExploration: SegmentAggregate[] = data.aggregates.filter((row) => !(row.costCenter === 'mobile' && row.servedModel !== row.requestedModel));
    const [result] = optimizeSegments(withoutOwnExploration, policy, { observedDays: data.observedDays, seed: 42, costCenter: 'mobile' });
    const proposal = asProposal(result);
    expect(proposal.math.samples.targetScoredTurns).toBe(0);
    expect(proposal.math.samples.pooledTargetScoredTurns).toBeGreaterThan(1000);
    expect(proposal.math.samples.thinStrata).toBe(proposal.math.samples.strata);
    expect(proposal.math.predictedRegression.upperBound).toBeLessThanOrEqual(LIMIT);
  });

  it('refuses rules beyond a stricter limit and proposes a smaller one', () => {
    const strict = simulationPolicy({ qualityRegressionLimit: 0.005 });
    const [result] = optimizeSegments(data.aggregates, strict, { observedDays: data.observedDays, seed: 42, costCenter: 'platform' });
    if (result?.status === 'proposal') {
      expect(result.math.predictedRegression.upperBound).toBeLessThanOrEqual(0.005);
      expect(result.math.thresholdTokens).toBeLessThan(16_000);
    } else expect(result?.status).toBe('no_improvement');
  });
});

describe('warm-up', () => {
  it('returns insufficient_data with what is missing when traffic is too thin', () => {
    const thin = simulate({ seed: 3, developers: 8, days: 3 });
    const results = optimizeSegments(thin.aggregates, policy, { observedDays: thin.observedDays, seed: 42 });
    expect(results).toHaveLength(4);
    for (const result of results) {
      expect(result.status).toBe('insufficient_data');
      if (result.status !== 'insufficient_data') continue;
      const requirements = result.missing.map((entry) => entry.requirement);
      expect(requirements).toContain('observed_days');
      expect(requirements).toContain('turns');
      expect(requirements).toContain('target_scored_turns');
      expect(result.summary).toMatch(/still warming up: observed days 3\/7/);
      // Issue #18: the report says what is missing in words an owner can act on.
      expect(result.missing[0]?.message).toBe('needs 4 more day(s) of traffic (have 3 of 7)');
    }
  });

  it('reports a cost center with no traffic at all as warming up', () => {
    const [result] = optimizeSegments([], policy, { observedDays: {}, seed: 1, costCenter: 'finance-squad' });
    expect(result?.status).toBe('insufficient_data');
  });
});
