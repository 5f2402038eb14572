import { describe, expect, it } from 'vitest';
import { sequentialRegressionTest, type ArmStatistics } from '../../optimizer/rollback-guard.ts';
import { createSeededRandom, type SeededRandom } from '../../optimizer/seeded-random.ts';

/** Running mean/variance (Welford) of a stream of scores. */
function statistics(values: readonly number[]): ArmStatistics {
  let mean = 0;
  let squares = 0;
  values.forEach((value, index) => {
    const delta = value - mean;
    mean += delta / (index + 1);
    squares += delta * (value - mean);
  });
  return { n: values.length, mean, variance: values.length > 1 ? squares / (values.length - 1) : 0 };
}

/** Per-turn quality: mean of two Beta scores around `mean`, as the simulator's evaluator does (sd ≈ 0.05). */
function score(random: SeededRandom, mean: number): number {
  return (random.beta(mean * 30, (1 - mean) * 30) + random.beta(mean * 30, (1 - mean) * 30)) / 2;
}

const LIMIT = 0.005;
const BATCH = 25;
const BUDGET = 3000;

/** Streams treatment turns in batches and looks after each batch, like the periodic guard. */
function watch(seed: number, regression: number): { result: ReturnType<typeof sequentialRegressionTest>; treatmentSamples: number } {
  const random = createSeededRandom(seed);
  const baseline = Array.from({ length: 2000 }, () => score(random, 0.8));
  const treatment: number[] = [];
  for (;;) {
    for (let index = 0; index < BATCH; index += 1) treatment.push(score(random, 0.8 - regression));
    const result = sequentialRegressionTest(statistics(baseline), statistics(treatment), { limit: LIMIT, maxSamples: BUDGET });
    if (result.decision !== 'continue') return { result, treatmentSamples: treatment.length };
  }
}

describe('rollback guard (sequential test)', () => {
  it('detects a regression beyond the limit within a bounded sample budget', () => {
    const runs = Array.from({ length: 100 }, (_, seed) => watch(seed, 0.02));
    const rolledBack = runs.filter((run) => run.result.decision === 'rollback');
    expect(rolledBack.length).toBeGreaterThanOrEqual(98);
    for (const run of runs) expect(run.treatmentSamples).toBeLessThanOrEqual(BUDGET);
    const worst = Math.max(...rolledBack.map((run) => run.treatmentSamples));
    expect(worst).toBeLessThanOrEqual(600);
    const example = rolledBack[0]?.result.numbers;
    expect(example?.reason).toBe('regression_detected');
    expect(example?.logLikelihoodRatio).toBeGreaterThanOrEqual(example?.rollbackBoundary ?? Infinity);
    expect(example?.probabilityAboveLimit).toBeGreaterThan(0.9);
  });

  it('keeps a rule that does not regress: false rollbacks stay under alpha across seeds', () => {
    const runs = Array.from({ length: 200 }, (_, seed) => watch(10_000 + seed, 0));
    const falseRollbacks = runs.filter((run) => run.result.decision === 'rollback').length;
    expect(falseRollbacks / runs.length).toBeLessThanOrEqual(0.05);
    expect(runs.filter((run) => run.result.decision === 'accept').length).toBeGreaterThanOrEqual(190);
    // A rule that is slightly better than baseline is accepted too.
    const better = Array.from({ length: 50 }, (_, seed) => watch(20_000 + seed, -0.01));
    expect(better.every((run) => run.result.decision === 'accept')).toBe(true);
  });

  it('waits for the minimum samples before deciding anything', () => {
    const random = createSeededRandom(5);
    const baseline = statistics(Array.from({ length: 2000 }, () => score(random, 0.8)));
    const awful = statistics(Array.from({ length: 150 }, () => score(random, 0.5)));
    const early = sequentialRegressionTest(baseline, awful, { limit: LIMIT });
    expect(early.decision).toBe('continue');
    expect(early.numbers.reason).toBe('warming_up');
    const thinBaseline = sequentialRegressionTest(statistics([0.8, 0.9]), statistics(Array.from({ length: 500 }, () => score(random, 0.5))), { limit: LIMIT });
    expect(thinBaseline.decision).toBe('continue');
  });

  it('decides at the sample budget when the evidence stays in between', () => {
    const baseline: ArmStatistics = { n: 100_000, mean: 0.8, variance: 0.25 };
    const atLimit = sequentialRegressionTest(baseline, { n: 5000, mean: 0.8 - 0.0049, variance: 0.25 }, { limit: LIMIT });
    expect(atLimit.numbers.reason).toBe('budget_exhausted');
    expect(atLimit.decision).toBe('accept');
    const pastLimit = sequentialRegressionTest(baseline, { n: 5000, mean: 0.8 - 0.0051, variance: 0.25 }, { limit: LIMIT });
    expect(pastLimit.decision).toBe('rollback');
  });
});
