import { probit } from 'simple-statistics';
import { cholesky, normalCdf } from './gaussian-process.ts';

/**
 * Online learning of candidates history cannot score (a model allowed but never served to the cost
 * center, a lowered `reasoning.effort`): their saving is known from prices and the cost center's token
 * mix, their quality regression is not. A Gaussian process over the candidates' features carries what
 * one candidate's exploration turns say about its neighbours; the acquisition picks the candidate whose
 * exploration is worth most (saving above the incumbent × probability it is within the limit); a
 * candidate is proposable only on its own evidence. Candidates history scores exactly stay with the
 * exhaustive search (`optimize-segments.ts`).
 */
export interface ExplorationCandidate {
  id: string;
  /** Features in [0, 1] (e.g. price tier of the model, effort drop). */
  features: readonly number[];
  /** Predicted monthly saving if routed (known: prices × the cost center's token mix). */
  monthlySavingUsd: number;
}

/** Scored exploration turns of one candidate: their count and the mean quality gap (baseline − candidate). */
export interface ExplorationEvidence {
  turns: number;
  meanRegression: number;
}

export interface ExplorationSettings {
  limit: number;
  /** @defaultValue 0.95 */
  credibleLevel?: number;
  /** Scored turns a candidate needs of its own before it can be proposed. @defaultValue 400 */
  minEvidence?: number;
  /** Per-turn variance of the quality gap (pooled from history). @defaultValue 0.01 */
  noiseVariance?: number;
  /** Prior mean and variance of an unseen candidate's regression: pessimistic on purpose. @defaultValue 0.02, 0.03² */
  priorMean?: number;
  priorVariance?: number;
  /** GP length scale in feature units. @defaultValue 0.35 */
  lengthScale?: number;
}

export interface CandidatePosterior {
  mean: number;
  variance: number;
  probabilityFeasible: number;
  proposable: boolean;
}

function kernel(a: readonly number[], b: readonly number[], lengthScale: number, variance: number): number {
  let squared = 0;
  for (let index = 0; index < a.length; index += 1) squared += ((a[index] as number) - (b[index] as number)) ** 2;
  return variance * Math.exp(-squared / (2 * lengthScale * lengthScale));
}

/** GP posterior of every candidate's regression, each observed candidate with noise variance σ²/n. */
export function explorationPosterior(candidates: readonly ExplorationCandidate[], evidence: ReadonlyMap<string, ExplorationEvidence>, settings: ExplorationSettings): CandidatePosterior[] {
  const priorMean = settings.priorMean ?? 0.02;
  const priorVariance = settings.priorVariance ?? 0.03 ** 2;
  const lengthScale = settings.lengthScale ?? 0.35;
  const noise = settings.noiseVariance ?? 0.01;
  const z = probit(settings.credibleLevel ?? 0.95);
  const observed = candidates.filter((candidate) => (evidence.get(candidate.id)?.turns ?? 0) > 0);
  const solve = posteriorSolver(observed, evidence, { priorMean, priorVariance, lengthScale, noise });
  return candidates.map((candidate) => {
    const { mean, variance } = solve(candidate.features);
    const sd = Math.sqrt(Math.max(variance, 1e-12));
    const own = evidence.get(candidate.id)?.turns ?? 0;
    return { mean, variance, probabilityFeasible: normalCdf((settings.limit - mean) / sd), proposable: own >= (settings.minEvidence ?? 400) && mean + z * sd <= settings.limit };
  });
}

function posteriorSolver(observed: readonly ExplorationCandidate[], evidence: ReadonlyMap<string, ExplorationEvidence>, prior: { priorMean: number; priorVariance: number; lengthScale: number; noise: number }) {
  if (observed.length === 0) return () => ({ mean: prior.priorMean, variance: prior.priorVariance });
  const covariance = observed.map((a, i) => observed.map((b, j) => kernel(a.features, b.features, prior.lengthScale, prior.priorVariance) + (i === j ? prior.noise / (evidence.get(a.id) as ExplorationEvidence).turns : 0)));
  const lower = cholesky(covariance);
  const solveLower = (vector: readonly number[]) => {
    const out: number[] = [];
    for (let i = 0; i < vector.length; i += 1) {
      let sum = vector[i] as number;
      for (let k = 0; k < i; k += 1) sum -= (lower[i]?.[k] as number) * (out[k] as number);
      out.push(sum / (lower[i]?.[i] as number));
    }
    return out;
  };
  const residual = solveLower(observed.map((candidate) => (evidence.get(candidate.id) as ExplorationEvidence).meanRegression - prior.priorMean));
  return (features: readonly number[]) => {
    const cross = solveLower(observed.map((candidate) => kernel(features, candidate.features, prior.lengthScale, prior.priorVariance)));
    const mean = prior.priorMean + cross.reduce((total, value, index) => total + value * (residual[index] as number), 0);
    const variance = prior.priorVariance - cross.reduce((total, value) => total + value * value, 0);
    return { mean, variance };
  };
}

/** The candidate the next exploration turns go to, or undefined when nothing is worth exploring. */
export function pickExploration(candidates: readonly ExplorationCandidate[], posterior: readonly CandidatePosterior[]): ExplorationCandidate | undefined {
  const incumbent = Math.max(0, ...candidates.filter((_, index) => posterior[index]?.proposable).map((candidate) => candidate.monthlySavingUsd));
  let best: ExplorationCandidate | undefined;
  let bestValue = 0;
  candidates.forEach((candidate, index) => {
    const entry = posterior[index] as CandidatePosterior;
    if (entry.proposable || entry.probabilityFeasible < 0.01) return;
    const value = Math.max(0, candidate.monthlySavingUsd - incumbent) * entry.probabilityFeasible;
    if (value > bestValue) {
      bestValue = value;
      best = candidate;
    }
  });
  return best;
}
