import type { CostCenter, PolicyDocument } from '../shared/policy/policy-schema.ts';
import { optimizerSettingsOf } from '../shared/policy/optimizer-settings.ts';
import { sessionComponents, type SessionOutcome } from './session-outcomes.ts';
import { buildPairIndex, estimateCandidate, type CandidateEstimate, type EstimateSettings, type PairIndex } from './estimate-candidate.ts';
import { expectedImprovement, fitGaussianProcess, normalCdf, type GaussianProcess } from './gaussian-process.ts';
import { buildProposal, type InsufficientDataResult, type MissingRequirement, type OptimizerResult } from './proposal.ts';
import { createSeededRandom, type SeededRandom } from './seeded-random.ts';
import { candidateKey, encodeCandidate, enumerateCandidates, modelPairsFor, neighbours, ruleOf, type ModelPair, type RuleCandidate } from './search-space.ts';
import type { ObservedDays, SegmentAggregate } from './segment-aggregate.ts';
import { modelPrice } from '../shared/pricing/model-catalog.ts';

/** Progress of a run, for the CLI's progress bar. */
export interface OptimizerProgress {
  costCenter: string;
  /** 1-based position of this cost center among those being optimised. */
  costCenterIndex: number;
  costCenterCount: number;
  evaluation: number;
  evaluations: number;
  bestMonthlySavingUsd: number | null;
}

/** Minimum data before the optimizer proposes anything for a cost center. */
export interface WarmUpRequirements {
  /** @defaultValue 7 */
  minDays: number;
  /** @defaultValue 1000 */
  minTurns: number;
  /** Scored turns served by the requested model. @defaultValue 300 */
  minBaselineScoredTurns: number;
  /** Scored turns that requested the expensive model but were served by a cheaper one (own + other cost centers). @defaultValue 200 */
  minTargetScoredTurns: number;
}

export interface OptimizeOptions {
  /** Calendar days of data per cost center (from the window query or the accumulator). */
  observedDays: ObservedDays;
  /** PRNG seed; same aggregates + policy + seed → identical results. */
  seed: number;
  /** Only this cost center; default every cost center of the policy. */
  costCenter?: string | undefined;
  /** Objective evaluations per cost center (initial design included). @defaultValue 80 */
  evaluations?: number;
  /** Evaluations drawn at random before the surrogate takes over. @defaultValue 16 */
  initialEvaluations?: number;
  /** Random candidates scored by the acquisition function per step (plus the incumbents' neighbours). @defaultValue 300 */
  candidatesPerStep?: number;
  /** One-sided credible level of the regression bound. @defaultValue 0.95 */
  credibleLevel?: number;
  /** @defaultValue 30 */
  minSegmentSamples?: number;
  /** @defaultValue 200 */
  minRegionSamples?: number;
  warmUp?: Partial<WarmUpRequirements>;
  /** Smaller savings are not worth an approver's time. @defaultValue 1 */
  minMonthlySavingUsd?: number;
  /** Propose the rule with `dry_run: true` (warm-up). @defaultValue false */
  ruleDryRun?: boolean;
  onProgress?: ((progress: OptimizerProgress) => void) | undefined;
  /**
   * Session outcomes (task completion, code correctness) per majority route. Given, a cost center's
   * quality is the policy's weighted mix of turn validity and session outcomes; absent, turn-level only.
   */
  sessionOutcomes?: readonly SessionOutcome[] | undefined;
}

/** Warm-up of a cost center: the policy's `optimizer.warm_up` (global, then the cost center's), then explicit options. */
export function warmUpOf(policy: PolicyDocument, costCenter: string, overrides: Partial<WarmUpRequirements> | undefined): WarmUpRequirements {
  return { ...optimizerSettingsOf(policy, costCenter).warmUp, ...overrides };
}

/** One evaluated point of the search. */
interface Evaluated {
  candidate: RuleCandidate;
  features: number[];
  estimate: CandidateEstimate;
}

/**
 * The optimizer's pure core: aggregates + active policy → one result per cost center.
 * For each cost center it checks the warm-up requirements, then runs a constrained Bayesian
 * search (two Gaussian processes: monthly saving and regression-bound slack; acquisition =
 * expected improvement × probability of feasibility) over (threshold, hour window, days, model pair).
 */
export function optimizeSegments(aggregates: readonly SegmentAggregate[], policy: PolicyDocument, options: OptimizeOptions): OptimizerResult[] {
  const names = Object.keys(policy.cost_centers)
    .filter((name) => options.costCenter === undefined || name === options.costCenter)
    .sort();
  // A pair's index serves every cost center that searches it.
  const indexes = new Map<string, PairIndex>();
  const indexOf = (pair: ModelPair): PairIndex => {
    const key = `${pair.requestedModel}\u0000${pair.targetModel}`;
    let index = indexes.get(key);
    if (!index) {
      const price = (model: string) => modelPrice(policy.models[model] as PolicyDocument['models'][string]);
      index = buildPairIndex(aggregates, pair, { requested: price(pair.requestedModel), target: price(pair.targetModel) });
      indexes.set(key, index);
    }
    return index;
  };
  return names.map((name, position) => optimizeCostCenter(name, policy.cost_centers[name] as CostCenter, position, names.length, aggregates, policy, options, indexOf));
}

/** What every step of one cost center's search reads. */
interface CenterRun {
  name: string;
  center: CostCenter;
  policy: PolicyDocument;
  options: OptimizeOptions;
  observedDays: number;
  credibleLevel: number;
}

function optimizeCostCenter(
  name: string,
  center: CostCenter,
  index: number,
  count: number,
  aggregates: readonly SegmentAggregate[],
  policy: PolicyDocument,
  options: OptimizeOptions,
  indexOf: (pair: ModelPair) => PairIndex,
): OptimizerResult {
  const own = aggregates.filter((row) => row.costCenter === name);
  const pairs = modelPairsFor(name, center, policy, aggregates);
  const observedDays = options.observedDays[name] ?? 0;
  const missing = warmUpGaps(own, aggregates, pairs, observedDays, warmUpOf(policy, name, options.warmUp));
  if (missing.length > 0) return insufficient(name, missing);
  if (pairs.length === 0) return { status: 'no_improvement', costCenter: name, reason: 'no_cheaper_model', summary: `for ${name}, no allowed model is cheaper than the ones requested` };

  const run: CenterRun = { name, center, policy, options, observedDays, credibleLevel: options.credibleLevel ?? 0.95 };
  const pairIndexes = pairs.map(indexOf);
  const pairSettings = estimateSettingsPerPair(run, own, pairs);
  const evaluate = (candidate: RuleCandidate): Evaluated => ({
    candidate,
    features: encodeCandidate(candidate, pairs.length),
    estimate: estimateCandidate(candidate, pairIndexes[candidate.pairIndex] as PairIndex, pairSettings[candidate.pairIndex] as EstimateSettings),
  });

  const budget = Math.max(4, options.evaluations ?? 80);
  const random = createSeededRandom(options.seed ^ hashText(name));
  const progress = (evaluated: readonly Evaluated[]) =>
    options.onProgress?.({ costCenter: name, costCenterIndex: index + 1, costCenterCount: count, evaluation: evaluated.length, evaluations: budget, bestMonthlySavingUsd: bestFeasible(evaluated)?.estimate.monthlySavingUsd ?? null });
  const { evaluated, lengthScale } = search(pairs.length, budget, options, random, evaluate, progress);

  const best = bestFeasible(evaluated);
  if (!best) return noFeasibleRule(name, center, pairs, evaluated, run.credibleLevel);
  return resultOfBest(run, best, pairs, evaluated, lengthScale);
}

/** The estimate settings of each model pair: the same thresholds, plus that pair's session outcomes when given. */
function estimateSettingsPerPair(run: CenterRun, own: readonly SegmentAggregate[], pairs: readonly ModelPair[]): EstimateSettings[] {
  const { name, center, policy, options } = run;
  const settings: EstimateSettings = {
    costCenter: name,
    observedDays: run.observedDays,
    costCenterTurns: own.reduce((total, row) => total + row.turns, 0),
    credibleLevel: run.credibleLevel,
    minSegmentSamples: options.minSegmentSamples ?? 30,
    minRegionSamples: options.minRegionSamples ?? 200,
    qualityRegressionLimit: center.quality_regression_limit,
  };
  const weights = optimizerSettingsOf(policy, name).qualityWeights;
  return pairs.map((pair) =>
    options.sessionOutcomes === undefined
      ? settings
      : { ...settings, session: { turnWeight: weights.toolUseAccuracy, ...sessionComponents(options.sessionOutcomes, pair.requestedModel, pair.targetModel, weights) } },
  );
}

/** The best feasible rule becomes a proposal, unless it saves too little or the policy already has it. */
function resultOfBest(run: CenterRun, best: Evaluated, pairs: readonly ModelPair[], evaluated: readonly Evaluated[], lengthScale: number | null): OptimizerResult {
  const { name, center, policy, options } = run;
  if (best.estimate.monthlySavingUsd < (options.minMonthlySavingUsd ?? 1)) {
    return { status: 'no_improvement', costCenter: name, reason: 'saving_too_small', summary: `for ${name}, the best rule within the quality limit saves only $${best.estimate.monthlySavingUsd.toFixed(2)}/month` };
  }
  const bestPair = pairs[best.candidate.pairIndex] as ModelPair;
  const bestRule = ruleOf(best.candidate, bestPair, name, 'candidate', { proposalId: '', dryRun: false });
  const sameRule = policy.rules.find((rule) => !rule.dry_run && canonicalJson([rule.cost_centers, rule.when, rule.route_to]) === canonicalJson([bestRule.cost_centers, bestRule.when, bestRule.route_to]));
  if (sameRule) return { status: 'no_improvement', costCenter: name, reason: 'already_in_policy', summary: `for ${name}, the best rule is already active as "${sameRule.id}"` };
  return buildProposal({
    costCenter: name,
    timezone: center.timezone,
    candidate: best.candidate,
    pair: bestPair,
    estimate: best.estimate,
    policy,
    seed: options.seed,
    credibleLevel: run.credibleLevel,
    limit: center.quality_regression_limit,
    observedDays: run.observedDays,
    ruleDryRun: options.ruleDryRun ?? false,
    search: {
      method: 'gaussian-process-expected-improvement',
      seed: options.seed,
      evaluations: evaluated.length,
      feasibleEvaluations: evaluated.filter((entry) => entry.estimate.feasible).length,
      lengthScale,
    },
  });
}

/** The result when no evaluated rule met the quality constraint, with the closest one for context. */
function noFeasibleRule(name: string, center: CostCenter, pairs: readonly ModelPair[], evaluated: readonly Evaluated[], credibleLevel: number): OptimizerResult {
  // Closest = smallest regression bound among rules with enough samples to judge.
  const judged = evaluated.filter((entry) => entry.estimate.enoughSamples && entry.estimate.affectedTurns > 0);
  const closest = [...judged].sort((a, b) => a.estimate.constraint - b.estimate.constraint)[0];
  const detail = closest ? `closest: ${pct(closest.estimate.regression.upperBound)}` : 'no candidate region has enough scored turns yet';
  return {
    status: 'no_improvement',
    costCenter: name,
    reason: 'no_rule_within_limit',
    summary: `for ${name}, no rule keeps the ${pct(credibleLevel)} bound of quality regression under ${pct(center.quality_regression_limit)} (${detail})`,
    ...(closest ? { bestLookedAt: { rule: ruleOf(closest.candidate, pairs[closest.candidate.pairIndex] as ModelPair, name, 'not-proposed', { proposalId: '', dryRun: true }), estimate: closest.estimate } } : {}),
  };
}

function search(
  pairCount: number,
  budget: number,
  options: OptimizeOptions,
  random: SeededRandom,
  evaluate: (candidate: RuleCandidate) => Evaluated,
  progress: (evaluated: readonly Evaluated[]) => void,
): { evaluated: Evaluated[]; lengthScale: number | null } {
  const space = enumerateCandidates(pairCount);
  const seen = new Set<string>();
  const evaluated: Evaluated[] = [];
  const add = (candidate: RuleCandidate) => {
    const key = candidateKey(candidate);
    if (seen.has(key) || evaluated.length >= budget) return;
    seen.add(key);
    evaluated.push(evaluate(candidate));
    progress(evaluated);
  };
  // Anchors along the main axis (whole-day rules at a few thresholds per pair): where the quality
  // constraint starts to bind is what the surrogates most need to learn first.
  for (const thresholdIndex of [2, 5, 8])
    for (let pairIndex = 0; pairIndex < pairCount; pairIndex += 1) add({ pairIndex, thresholdIndex, startHour: 0, lengthHours: 24, days: 'all' });
  const initial = Math.min(budget, Math.max(options.initialEvaluations ?? 16, 3 * pairCount + 2));
  while (evaluated.length < initial && seen.size < space.length) add(space[random.nextInt(space.length)] as RuleCandidate);

  let lengthScale: number | null = null;
  const perStep = options.candidatesPerStep ?? 300;
  while (evaluated.length < budget && seen.size < space.length) {
    const points = evaluated.map((entry) => entry.features);
    const savingModel = fitGaussianProcess(points, evaluated.map((entry) => entry.estimate.monthlySavingUsd));
    const constraintModel = fitGaussianProcess(points, evaluated.map(constraintTarget));
    lengthScale = savingModel.lengthScale;
    const pool = candidatePool(space, seen, evaluated, pairCount, perStep, random);
    if (pool.length === 0) break;
    const next = argmaxAcquisition(pool, pairCount, savingModel, constraintModel, bestFeasible(evaluated)?.estimate.monthlySavingUsd);
    add(next);
  }
  return { evaluated, lengthScale };
}

/**
 * The constraint the second GP learns: regression-bound slack, clipped so a wildly uncertain
 * candidate does not flatten the surrogate; too few samples counts as a (mild) violation.
 */
function constraintTarget(entry: Evaluated): number {
  const slack = Math.max(-0.05, Math.min(0.05, entry.estimate.constraint));
  return entry.estimate.enoughSamples ? slack : Math.max(slack, 0.01);
}

function candidatePool(space: readonly RuleCandidate[], seen: ReadonlySet<string>, evaluated: readonly Evaluated[], pairCount: number, size: number, random: SeededRandom): RuleCandidate[] {
  const pool: RuleCandidate[] = [];
  const inPool = new Set<string>();
  const push = (candidate: RuleCandidate) => {
    const key = candidateKey(candidate);
    if (seen.has(key) || inPool.has(key)) return;
    inPool.add(key);
    pool.push(candidate);
  };
  // Local moves around the best few points keep refining the incumbent.
  const ranked = [...evaluated].sort((a, b) => rank(b) - rank(a) || candidateKey(a.candidate).localeCompare(candidateKey(b.candidate)));
  for (const entry of ranked.slice(0, 3)) for (const move of neighbours(entry.candidate, pairCount)) push(move);
  for (let attempt = 0; attempt < size * 2 && pool.length < size + 200; attempt += 1) push(space[random.nextInt(space.length)] as RuleCandidate);
  return pool;
}

/** Feasible points by saving first, then infeasible ones by closeness to feasibility. */
function rank(entry: Evaluated): number {
  return entry.estimate.feasible ? 1e9 + entry.estimate.monthlySavingUsd : -entry.estimate.constraint;
}

function argmaxAcquisition(pool: readonly RuleCandidate[], pairCount: number, savingModel: GaussianProcess, constraintModel: GaussianProcess, incumbent: number | undefined): RuleCandidate {
  let best = pool[0] as RuleCandidate;
  let bestValue = Number.NEGATIVE_INFINITY;
  for (const candidate of pool) {
    const features = encodeCandidate(candidate, pairCount);
    const constraint = constraintModel.predict(features);
    const feasibility = normalCdf(-constraint.mean / Math.sqrt(constraint.variance));
    const saving = savingModel.predict(features);
    // Before anything feasible is known, look for feasibility first, saving second.
    const value = incumbent === undefined ? feasibility * (1 + 1e-6 * Math.max(0, saving.mean)) : expectedImprovement(saving, incumbent) * feasibility;
    if (value > bestValue) {
      bestValue = value;
      best = candidate;
    }
  }
  return best;
}

function bestFeasible(evaluated: readonly Evaluated[]): Evaluated | undefined {
  let best: Evaluated | undefined;
  for (const entry of evaluated) {
    if (!entry.estimate.feasible) continue;
    if (!best || entry.estimate.monthlySavingUsd > best.estimate.monthlySavingUsd) best = entry;
  }
  return best;
}

function warmUpGaps(own: readonly SegmentAggregate[], all: readonly SegmentAggregate[], pairs: readonly ModelPair[], observedDays: number, needs: WarmUpRequirements): MissingRequirement[] {
  const missing: MissingRequirement[] = [];
  const push = (entry: Omit<MissingRequirement, 'message'>) => {
    const more = entry.need - entry.have;
    const what = entry.requirement === 'observed_days' ? `${more} more day(s) of traffic` : entry.requirement === 'turns' ? `${more} more turns` : `${more} more scored turns${entry.model ? ` on ${entry.model}` : ''}`;
    missing.push({ ...entry, message: `needs ${what} (have ${entry.have} of ${entry.need})` });
  };
  const turns = own.reduce((total, row) => total + row.turns, 0);
  if (observedDays < needs.minDays) push({ requirement: 'observed_days', have: observedDays, need: needs.minDays, hint: 'lower optimizer.warm_up.min_days to propose sooner' });
  if (turns < needs.minTurns) push({ requirement: 'turns', have: turns, need: needs.minTurns, hint: 'a cost center with less traffic can lower optimizer.warm_up.min_turns' });
  // The pair closest to ready (most target-arm scored turns) names the models the report speaks of.
  const targets = pairs.map((pair) => ({ pair, scored: all.filter((row) => row.requestedModel === pair.requestedModel && row.servedModel === pair.targetModel).reduce((total, row) => total + row.scoredTurns, 0) }));
  const best = [...targets].sort((a, b) => b.scored - a.scored)[0];
  const baselineByModel = new Map<string, number>();
  for (const row of own) if (row.servedModel === row.requestedModel) baselineByModel.set(row.requestedModel, (baselineByModel.get(row.requestedModel) ?? 0) + row.scoredTurns);
  const baselineModel = best?.pair.requestedModel ?? [...baselineByModel].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0];
  const baseline = baselineModel === undefined ? 0 : (baselineByModel.get(baselineModel) ?? 0);
  if (baseline < needs.minBaselineScoredTurns) push({ requirement: 'baseline_scored_turns', have: baseline, need: needs.minBaselineScoredTurns, model: baselineModel, hint: 'turns the evaluator scored on the model developers ask for' });
  if (best && best.scored < needs.minTargetScoredTurns)
    push({
      requirement: 'target_scored_turns',
      have: best.scored,
      need: needs.minTargetScoredTurns,
      model: best.pair.targetModel,
      hint: `scored turns that asked for ${best.pair.requestedModel} and were served by ${best.pair.targetModel} (any cost center): set optimizer.exploration_share or cost_centers.<name>.exploration so the optimizer can learn its quality`,
    });
  return missing;
}

function insufficient(costCenter: string, missing: MissingRequirement[]): InsufficientDataResult {
  const what = missing.map((entry) => `${entry.requirement.replaceAll('_', ' ')} ${entry.have}/${entry.need}`).join(', ');
  const needs = missing.map((entry) => entry.message).join('; ');
  return { status: 'insufficient_data', costCenter, missing, summary: `for ${costCenter}, still warming up: ${what} (${needs})` };
}

function pct(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** JSON with object keys sorted, to compare rules whatever order their fields were written in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner) ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1))) : inner,
  );
}

/** FNV-1a, so each cost center gets its own deterministic stream from one seed. */
function hashText(text: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) hash = Math.imul(hash ^ text.charCodeAt(index), 0x01000193);
  return hash >>> 0;
}
