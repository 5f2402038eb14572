import { errorFunction, mean, sampleStandardDeviation } from 'simple-statistics';

/** Length scales tried when fitting; the one with the highest marginal likelihood wins. */
const LENGTH_SCALES = [0.08, 0.15, 0.3, 0.6, 1.2] as const;
/** Noise on the standardised scale: the objective is deterministic but has jumps. */
const NUGGET = 1e-3;

/** A fitted Gaussian-process regression (Matérn 5/2 kernel, zero mean on standardised targets). */
export interface GaussianProcess {
  lengthScale: number;
  logMarginalLikelihood: number;
  /** Posterior mean and variance at a point, on the original target scale. */
  predict(point: readonly number[]): { mean: number; variance: number };
}

function matern52(a: readonly number[], b: readonly number[], lengthScale: number): number {
  let squared = 0;
  for (let index = 0; index < a.length; index += 1) {
    const difference = (a[index] as number) - (b[index] as number);
    squared += difference * difference;
  }
  const r = (Math.sqrt(5 * squared) / lengthScale);
  return (1 + r + (r * r) / 3) * Math.exp(-r);
}

/** Lower-triangular Cholesky factor of a symmetric positive-definite matrix (row-major arrays). */
export function cholesky(matrix: readonly (readonly number[])[]): number[][] {
  const size = matrix.length;
  const lower = Array.from({ length: size }, () => new Array<number>(size).fill(0));
  for (let i = 0; i < size; i += 1) {
    const rowI = lower[i] as number[];
    for (let j = 0; j <= i; j += 1) {
      const rowJ = lower[j] as number[];
      let sum = (matrix[i] as readonly number[])[j] as number;
      for (let k = 0; k < j; k += 1) sum -= (rowI[k] as number) * (rowJ[k] as number);
      if (i === j) {
        if (sum <= 0) throw new Error('matrix is not positive definite');
        rowI[i] = Math.sqrt(sum);
      } else rowI[j] = sum / (rowJ[j] as number);
    }
  }
  return lower;
}

function solveLower(lower: readonly (readonly number[])[], vector: readonly number[]): number[] {
  const result = new Array<number>(vector.length).fill(0);
  for (let i = 0; i < vector.length; i += 1) {
    const row = lower[i] as readonly number[];
    let sum = vector[i] as number;
    for (let k = 0; k < i; k += 1) sum -= (row[k] as number) * (result[k] as number);
    result[i] = sum / (row[i] as number);
  }
  return result;
}

function solveUpperTransposed(lower: readonly (readonly number[])[], vector: readonly number[]): number[] {
  const size = vector.length;
  const result = new Array<number>(size).fill(0);
  for (let i = size - 1; i >= 0; i -= 1) {
    let sum = vector[i] as number;
    for (let k = i + 1; k < size; k += 1) sum -= ((lower[k] as readonly number[])[i] as number) * (result[k] as number);
    result[i] = sum / ((lower[i] as readonly number[])[i] as number);
  }
  return result;
}

/**
 * Fits a GP to (points, targets). Targets are standardised with simple-statistics' mean and
 * sample standard deviation; the length scale is chosen by maximum marginal likelihood over a grid.
 */
export function fitGaussianProcess(points: readonly (readonly number[])[], targets: readonly number[]): GaussianProcess {
  if (points.length === 0) throw new Error('fitGaussianProcess needs at least one point');
  const center = mean([...targets]);
  const spread = targets.length > 1 ? sampleStandardDeviation([...targets]) : 0;
  const scale = spread > 1e-12 ? spread : 1;
  const standardised = targets.map((value) => (value - center) / scale);
  let best: { lengthScale: number; lower: number[][]; alpha: number[]; logLikelihood: number } | undefined;
  for (const lengthScale of LENGTH_SCALES) {
    const covariance = points.map((a, i) => points.map((b, j) => matern52(a, b, lengthScale) + (i === j ? NUGGET : 0)));
    let lower: number[][];
    try {
      lower = cholesky(covariance);
    } catch {
      continue;
    }
    const alpha = solveUpperTransposed(lower, solveLower(lower, standardised));
    let logDeterminant = 0;
    for (let i = 0; i < lower.length; i += 1) logDeterminant += 2 * Math.log((lower[i] as number[])[i] as number);
    const fit = standardised.reduce((total, value, index) => total + value * (alpha[index] as number), 0);
    const logLikelihood = -0.5 * fit - 0.5 * logDeterminant - (points.length / 2) * Math.log(2 * Math.PI);
    if (!best || logLikelihood > best.logLikelihood) best = { lengthScale, lower, alpha, logLikelihood };
  }
  if (!best) throw new Error('no length scale gave a positive-definite covariance');
  const { lengthScale, lower, alpha, logLikelihood } = best;
  return {
    lengthScale,
    logMarginalLikelihood: logLikelihood,
    predict(point) {
      const kernelVector = points.map((other) => matern52(point, other, lengthScale));
      const meanStandardised = kernelVector.reduce((total, value, index) => total + value * (alpha[index] as number), 0);
      const v = solveLower(lower, kernelVector);
      const varianceStandardised = Math.max(1 + NUGGET - v.reduce((total, value) => total + value * value, 0), 1e-12);
      return { mean: center + scale * meanStandardised, variance: scale * scale * varianceStandardised };
    },
  };
}

/** Standard normal CDF through simple-statistics' error function. */
export function normalCdf(z: number): number {
  return 0.5 * (1 + errorFunction(z / Math.SQRT2));
}

export function normalDensity(z: number): number {
  return Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
}

/** Expected improvement of a normal prediction over `best` (maximisation). */
export function expectedImprovement(prediction: { mean: number; variance: number }, best: number): number {
  const sd = Math.sqrt(prediction.variance);
  if (sd < 1e-12) return Math.max(0, prediction.mean - best);
  const z = (prediction.mean - best) / sd;
  return (prediction.mean - best) * normalCdf(z) + sd * normalDensity(z);
}
