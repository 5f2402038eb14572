import { createSeededRandom } from './seeded-random.ts';
import { explorationPosterior, pickExploration, type ExplorationCandidate, type ExplorationEvidence, type ExplorationSettings } from './explore.ts';

/**
 * Ground truth for the exploration study: a cost center asks for an expensive model at
 * `reasoning.effort: high` (Codex sends it on every turn). Candidates history cannot score: four
 * allowed models it was never served (price tiers) × three efforts (high, medium, low). True
 * regression grows with the price cut and the effort drop; one unseen setting — the tier-b model at
 * medium effort — is within the 2-point limit and saves most among the feasible ones.
 */
export interface ExplorationTruth {
  candidates: ExplorationCandidate[];
  trueRegression: ReadonlyMap<string, number>;
  bestFeasible: ExplorationCandidate;
}

const MODELS = [
  { name: 'tier-a', price: 0.15, regression: 0.0 },
  { name: 'tier-b', price: 0.3, regression: 0.004 },
  { name: 'tier-c', price: 0.55, regression: 0.048 },
  { name: 'tier-d', price: 0.8, regression: 0.12 },
] as const;
const EFFORTS = [
  { name: 'high', drop: 0, outputCut: 0, regression: 0 },
  { name: 'medium', drop: 0.5, outputCut: 0.35, regression: 0.008 },
  { name: 'low', drop: 1, outputCut: 0.6, regression: 0.044 },
] as const;

/** The study's quality-regression limit (2 points, as in the optimizer's simulation tests). */
export const EXPLORATION_LIMIT = 0.02;

export function explorationTruth(monthlySpendUsd = 40_000): ExplorationTruth {
  const candidates: ExplorationCandidate[] = [];
  const trueRegression = new Map<string, number>();
  for (const [tier, model] of MODELS.entries())
    for (const effort of EFFORTS) {
      const id = `${model.name}@${effort.name}`;
      // Output is ~70% of the bill; a lower effort cuts output tokens.
      const saving = monthlySpendUsd * (model.price * 0.3 + (model.price + (1 - model.price) * effort.outputCut) * 0.7);
      candidates.push({ id, features: [tier / (MODELS.length - 1), effort.drop], monthlySavingUsd: Math.round(saving) });
      trueRegression.set(id, model.regression + effort.regression + (tier >= 2 && effort.drop > 0 ? 0.024 : 0));
    }
  const feasible = candidates.filter((candidate) => (trueRegression.get(candidate.id) as number) <= EXPLORATION_LIMIT);
  const bestFeasible = feasible.reduce((best, candidate) => (candidate.monthlySavingUsd > best.monthlySavingUsd ? candidate : best));
  return { candidates, trueRegression, bestFeasible };
}

export interface ExplorationRunOptions {
  strategy: 'bayesian' | 'random';
  seed: number;
  /** Turns of the cost center per day. @defaultValue 5000 */
  turnsPerDay?: number;
  /** Share of turns explored per day (capped at 0.05 like the policy). @defaultValue 0.02 */
  explorationShare?: number;
  days?: number;
  /** Per-turn sd of the observed quality gap. @defaultValue 0.1 */
  noiseSd?: number;
  settings?: Partial<ExplorationSettings>;
}

export interface ExplorationDay {
  day: number;
  exploredTurns: number;
  /** Best true saving among feasible candidates minus the true saving of the best proposable one (0 = found). */
  regretUsd: number;
  proposable: string | null;
  /** A proposable candidate whose true regression is over the limit (must stay 0). */
  unsafeProposals: number;
}

/** One run of the loop: each day the strategy picks a candidate, its share of turns is scored, the posterior updates. */
export function runExploration(truth: ExplorationTruth, options: ExplorationRunOptions): ExplorationDay[] {
  const random = createSeededRandom(options.seed);
  const share = Math.min(0.05, options.explorationShare ?? 0.02);
  const perDay = Math.floor((options.turnsPerDay ?? 5000) * share);
  const noiseSd = options.noiseSd ?? 0.1;
  const settings: ExplorationSettings = { limit: EXPLORATION_LIMIT, noiseVariance: noiseSd ** 2, priorMean: 2 * EXPLORATION_LIMIT, priorVariance: (3 * EXPLORATION_LIMIT) ** 2, ...options.settings };
  const evidence = new Map<string, ExplorationEvidence & { sum: number }>();
  const days: ExplorationDay[] = [];
  let explored = 0;
  for (let day = 1; day <= (options.days ?? 60); day += 1) {
    const posterior = explorationPosterior(truth.candidates, evidence, settings);
    const open = truth.candidates.filter((_, index) => !posterior[index]?.proposable);
    const pick = options.strategy === 'bayesian' ? pickExploration(truth.candidates, posterior) : open.length > 0 ? open[random.nextInt(open.length)] : undefined;
    if (pick) {
      const entry = evidence.get(pick.id) ?? { turns: 0, meanRegression: 0, sum: 0 };
      for (let turn = 0; turn < perDay; turn += 1) entry.sum += (truth.trueRegression.get(pick.id) as number) + noiseSd * random.normal();
      entry.turns += perDay;
      entry.meanRegression = entry.sum / entry.turns;
      evidence.set(pick.id, entry);
      explored += perDay;
    }
    const after = explorationPosterior(truth.candidates, evidence, settings);
    const proposable = truth.candidates.filter((_, index) => after[index]?.proposable);
    const best = proposable.reduce<ExplorationCandidate | undefined>((top, candidate) => (!top || candidate.monthlySavingUsd > top.monthlySavingUsd ? candidate : top), undefined);
    days.push({
      day,
      exploredTurns: explored,
      regretUsd: truth.bestFeasible.monthlySavingUsd - (best && (truth.trueRegression.get(best.id) as number) <= settings.limit ? best.monthlySavingUsd : 0),
      proposable: best?.id ?? null,
      unsafeProposals: proposable.filter((candidate) => (truth.trueRegression.get(candidate.id) as number) > settings.limit).length,
    });
  }
  return days;
}
