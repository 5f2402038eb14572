import { describe, expect, it } from 'vitest';
import { explorationPosterior, pickExploration } from '../../optimizer/explore.ts';
import { EXPLORATION_LIMIT, explorationTruth, runExploration } from '../../optimizer/explore-simulation.ts';

/**
 * The exploration study (docs/BENCHMARKS.md, "Exploration: regret vs spend"): 12 candidates history
 * cannot score, the best feasible one an unseen model at medium reasoning effort. At 2% of 5,000 turns
 * a day, the acquisition finds it within 2,000 explored turns; random exploration does not.
 */
describe('online exploration of candidates history cannot score', () => {
  const truth = explorationTruth();
  const seeds = Array.from({ length: 20 }, (_, index) => index + 1);

  it('the ground truth hides one better unseen setting', () => {
    expect(truth.bestFeasible.id).toBe('tier-b@medium');
    expect(truth.trueRegression.get('tier-b@medium')).toBeLessThanOrEqual(EXPLORATION_LIMIT);
  });

  it('finds it within 2,000 explored turns (20 days at 2%) in every seed; random exploration mostly does not', () => {
    const turnsToFind = (strategy: 'bayesian' | 'random') => seeds.map((seed) => runExploration(truth, { strategy, seed, days: 60 }).find((day) => day.regretUsd === 0)?.exploredTurns);
    const guided = turnsToFind('bayesian');
    expect(guided.every((turns) => turns !== undefined && turns <= 2000)).toBe(true);
    const random = turnsToFind('random');
    expect(random.filter((turns) => turns !== undefined && turns <= 2000).length).toBeLessThanOrEqual(4);
  });

  it('never proposes a candidate over the limit, and never explores more than the 5% cap', () => {
    for (const strategy of ['bayesian', 'random'] as const)
      for (const seed of seeds) {
        const days = runExploration(truth, { strategy, seed, days: 30, explorationShare: 0.5, turnsPerDay: 1000 });
        expect(days.every((day) => day.unsafeProposals === 0)).toBe(true);
        days.forEach((day, index) => expect(day.exploredTurns - (days[index - 1]?.exploredTurns ?? 0)).toBeLessThanOrEqual(50));
      }
  });

  it("learns from neighbours but proposes only on a candidate's own evidence", () => {
    const settings = { limit: EXPLORATION_LIMIT, priorMean: 0.04, priorVariance: 0.06 ** 2, noiseVariance: 0.01, minEvidence: 400 };
    const candidates = truth.candidates;
    const evidence = new Map([['tier-b@high', { turns: 2000, meanRegression: 0.004 }]]);
    const posterior = explorationPosterior(candidates, evidence, settings);
    const at = (id: string) => posterior[candidates.findIndex((candidate) => candidate.id === id)]!;
    expect(at('tier-b@high').proposable).toBe(true);
    // The neighbour's posterior moved toward the observation, but it has no evidence of its own.
    expect(at('tier-b@medium').mean).toBeLessThan(0.04);
    expect(at('tier-b@medium').proposable).toBe(false);
    // With tier-b@high proposable ($12,000), the next pick must promise more.
    const next = pickExploration(candidates, posterior);
    expect(next && next.monthlySavingUsd).toBeGreaterThan(12_000);
  });
});
