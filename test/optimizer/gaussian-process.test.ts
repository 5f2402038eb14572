import { describe, expect, it } from 'vitest';
import { cholesky, expectedImprovement, fitGaussianProcess, normalCdf } from '../../optimizer/gaussian-process.ts';
import { derSimonianLaird } from '../../optimizer/estimate-candidate.ts';
import { createSeededRandom } from '../../optimizer/seeded-random.ts';

describe('Gaussian process surrogate', () => {
  it('interpolates what it has seen and is unsure far from it', () => {
    const points = [0, 0.2, 0.4, 0.6, 0.8].map((x) => [x]);
    const targets = points.map(([x]) => Math.sin(6 * (x as number)) * 100 + 500);
    const model = fitGaussianProcess(points, targets);
    for (const [index, point] of points.entries()) expect(model.predict(point).mean).toBeCloseTo(targets[index] as number, -1);
    const near = model.predict([0.3]);
    expect(Math.abs(near.mean - (Math.sin(1.8) * 100 + 500))).toBeLessThan(25);
    expect(model.predict([3]).variance).toBeGreaterThan(50 * model.predict([0.4]).variance);
  });

  it('computes expected improvement and the normal CDF correctly', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 4);
    expect(normalCdf(-1.959964)).toBeCloseTo(0.025, 4);
    // EI of N(0, 1) over 0 is φ(0) = 0.3989.
    expect(expectedImprovement({ mean: 0, variance: 1 }, 0)).toBeCloseTo(0.398942, 5);
    expect(expectedImprovement({ mean: 5, variance: 0 }, 3)).toBe(2);
    expect(expectedImprovement({ mean: 1, variance: 0 }, 3)).toBe(0);
  });

  it('factors a positive-definite matrix and refuses one that is not', () => {
    const lower = cholesky([
      [4, 2],
      [2, 3],
    ]);
    expect(lower).toEqual([
      [2, 0],
      [1, Math.SQRT2],
    ]);
    expect(() => cholesky([[1, 2], [2, 1]])).toThrow(/positive definite/);
  });
});

describe('empirical Bayes between-center variance', () => {
  it('is zero when centers agree up to sampling noise and recovers a real spread', () => {
    const random = createSeededRandom(9);
    const noiseOnly = Array.from({ length: 40 }, (_, index) => ({ stratum: index % 4, gap: 0.02 + 0.01 * random.normal(), variance: 0.0001 }));
    expect(derSimonianLaird(noiseOnly)).toBeLessThan(0.00003);
    const spread = Array.from({ length: 400 }, (_, index) => ({ stratum: index % 4, gap: 0.02 + 0.03 * random.normal() + 0.01 * random.normal(), variance: 0.0001 }));
    expect(Math.sqrt(derSimonianLaird(spread))).toBeGreaterThan(0.025);
    expect(Math.sqrt(derSimonianLaird(spread))).toBeLessThan(0.035);
  });
});
