import type { CostCenter, PolicyDocument } from '../shared/policy/policy-schema.ts';
import type { ExplorationPlan } from '../shared/exploration/exploration-plan.ts';
import { optimizerSettingsOf, type QualityWeights } from '../shared/policy/optimizer-settings.ts';
import { effortRank, lowerEfforts } from '../shared/policy/reasoning-effort.ts';
import { costOfTokens, priceOf, type SegmentAggregate } from './segment-aggregate.ts';
import { explorationPosterior, pickExploration, type ExplorationCandidate, type ExplorationEvidence, type ExplorationSettings } from './explore.ts';

/**
 * The running loop's exploration (issue 18, part 5): for a cost center with `exploration_share > 0`,
 * the candidates history cannot score — a model allowed but never served in place of the requested
 * one, the requested model at a lowered `reasoning.effort`, or both — their evidence from the turns
 * the exploration served, the GP posterior (explore.ts) and the acquisition's pick, as a plan the
 * gateways apply. Pure: the loop reads the rows (explorationEvidenceQuery) and publishes the plan.
 */

/** Which arm a row of the exploration queries counts: the route (model and effort, asked and served) and whether exploration served it. */
export interface ArmKey {
  costCenter: string;
  requestedModel: string;
  servedModel: string;
  requestedEffort: string;
  servedEffort: string;
  explored: boolean;
}

/** One row of `explorationEvidenceQuery`. */
export interface EvidenceRow extends ArmKey {
  turns: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  scoredTurns: number;
  qualitySum: number;
  qualitySquaredSum: number;
}

/** One row of `explorationOutcomesQuery`: session outcomes of an arm, by the route that served most of each session. */
export interface OutcomeRow extends ArmKey {
  completion: { n: number; sum: number };
  correctness: { n: number; sum: number };
}

/** The quality gap of a candidate by component (baseline − candidate; null = not scored on both sides yet). */
export interface GapComponents {
  toolUseAccuracy: number | null;
  taskCompletion: number | null;
  codeCorrectness: number | null;
}

/** A candidate as the status shows it. */
export interface CandidateView {
  id: string;
  requestedModel: string;
  routeTo: string;
  /** The effort served instead of the client's, for an effort candidate. */
  reasoningEffort?: string | undefined;
  monthlySavingUsd: number;
  /** Scored exploration turns of this candidate, and the quality gap they show (baseline − candidate). */
  scoredTurns: number;
  meanRegression: number | null;
  /** What the regression is made of, weighted by the policy's `quality_weights`. */
  components: GapComponents | null;
  posteriorMean: number;
  posteriorStandardDeviation: number;
  probabilityFeasible: number;
  /** Enough own evidence and the bound within the limit: the candidate may feed a proposal. */
  proposable: boolean;
}

export interface CostCenterExploration {
  costCenter: string;
  share: number;
  /** What the gateways apply; undefined = nothing worth exploring now. */
  plan: ExplorationPlan | undefined;
  candidates: CandidateView[];
  /** Scored turns a candidate needs of its own (the warm-up's per-arm number). */
  minEvidence: number;
  /** The largest regression a candidate may show (the cost center's `quality_regression_limit`). */
  limit: number;
  /** Scored turns of the baselines the gaps are measured against. */
  baselineScoredTurns: number;
  /** The summary of the proposal its evidence made (set by the loop's run, optimizer-run.ts). */
  proposal?: string | undefined;
  summary: string;
}

/**
 * Turns at a lower effort write fewer output tokens. The saving of an effort candidate is predicted
 * with this cut per step (one step ≈ −35% output, as in the exploration study, explore-simulation.ts);
 * quality is what exploration measures.
 */
export const OUTPUT_KEPT_PER_EFFORT_STEP = 0.65;

export interface PlanExplorationInput {
  costCenter: string;
  policy: PolicyDocument;
  aggregates: readonly SegmentAggregate[];
  evidence: readonly EvidenceRow[];
  /** Session outcomes of the same arms (absent: turn-level quality only). */
  outcomes?: readonly OutcomeRow[] | undefined;
  observedDays: number;
  now: number;
  ttlMillis: number;
}

interface Baseline {
  requestedModel: string;
  turns: number;
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  scored: number;
  sum: number;
  squares: number;
  /** The effort most of its turns asked for ('' = none). */
  effort: string;
}

interface Built extends ExplorationCandidate {
  requestedModel: string;
  routeTo: string;
  reasoningEffort: string | undefined;
  evidence: ExplorationEvidence | undefined;
  components: GapComponents | null;
}

/** The exploration of one cost center, or undefined when its `exploration_share` is 0. */
export function planExploration(input: PlanExplorationInput): CostCenterExploration | undefined {
  const settings = optimizerSettingsOf(input.policy, input.costCenter);
  const center = input.policy.cost_centers[input.costCenter];
  if (!center || !(settings.explorationShare > 0)) return undefined;
  const own = input.evidence.filter((row) => row.costCenter === input.costCenter);
  const outcomes = (input.outcomes ?? []).filter((row) => row.costCenter === input.costCenter);
  const baselines = baselinesOf(own);
  const candidates = baselines.flatMap((baseline) => candidatesFor(baseline, input, center, own)).map((candidate) => withSessionOutcomes(candidate, outcomes, settings.qualityWeights));
  const minEvidence = settings.warmUp.minTargetScoredTurns;
  const limit = center.quality_regression_limit;
  const exploration: ExplorationSettings = { limit, minEvidence, noiseVariance: pooledVariance(baselines), priorMean: 2 * limit, priorVariance: (3 * limit) ** 2 };
  const evidence = new Map(candidates.flatMap((candidate) => (candidate.evidence ? [[candidate.id, candidate.evidence] as const] : [])));
  const posterior = explorationPosterior(candidates, evidence, exploration);
  const pick = pickExploration(candidates, posterior) as Built | undefined;
  const plan: ExplorationPlan | undefined = pick && {
    costCenter: input.costCenter,
    requestedModel: pick.requestedModel,
    routeTo: pick.routeTo,
    share: settings.explorationShare,
    candidate: pick.id,
    ...(pick.reasoningEffort !== undefined ? { reasoningEffort: pick.reasoningEffort } : {}),
    expiresAt: input.now + input.ttlMillis,
  };
  const views = candidates.map((candidate, index): CandidateView => {
    const entry = posterior[index] as (typeof posterior)[number];
    return {
      id: candidate.id,
      requestedModel: candidate.requestedModel,
      routeTo: candidate.routeTo,
      ...(candidate.reasoningEffort !== undefined ? { reasoningEffort: candidate.reasoningEffort } : {}),
      monthlySavingUsd: candidate.monthlySavingUsd,
      scoredTurns: candidate.evidence?.turns ?? 0,
      meanRegression: candidate.evidence?.meanRegression ?? null,
      components: candidate.components,
      posteriorMean: entry.mean,
      posteriorStandardDeviation: Math.sqrt(Math.max(entry.variance, 0)),
      probabilityFeasible: entry.probabilityFeasible,
      proposable: entry.proposable,
    };
  });
  const baselineScoredTurns = baselines.reduce((total, entry) => total + entry.scored, 0);
  return { costCenter: input.costCenter, share: settings.explorationShare, plan, candidates: views, minEvidence, limit, baselineScoredTurns, summary: summaryOf(input.costCenter, settings.explorationShare, plan, views, minEvidence) };
}

function summaryOf(costCenter: string, share: number, plan: ExplorationPlan | undefined, views: readonly CandidateView[], minEvidence: number): string {
  const ready = views.filter((view) => view.proposable).map((view) => view.id);
  const readyText = ready.length > 0 ? `; enough evidence: ${ready.join(', ')}` : '';
  if (!plan) return `for ${costCenter}, nothing to explore (${views.length} candidate(s) history cannot score${readyText})`;
  const view = views.find((entry) => entry.id === plan.candidate);
  return `for ${costCenter}, exploring ${plan.candidate} on up to ${(share * 100).toFixed(1)}% of sessions (${view?.scoredTurns ?? 0} of ${minEvidence} scored turns${readyText})`;
}

/** Baseline arm per requested model: turns served as asked, outside any experiment. */
function baselinesOf(rows: readonly EvidenceRow[]): Baseline[] {
  const byModel = new Map<string, Baseline & { efforts: Map<string, number> }>();
  for (const row of rows) {
    if (row.explored) continue;
    const entry = byModel.get(row.requestedModel) ?? { requestedModel: row.requestedModel, turns: 0, inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, scored: 0, sum: 0, squares: 0, effort: '', efforts: new Map<string, number>() };
    entry.turns += row.turns;
    entry.inputTokens += row.inputTokens;
    entry.cachedInputTokens += row.cachedInputTokens;
    entry.outputTokens += row.outputTokens;
    entry.scored += row.scoredTurns;
    entry.sum += row.qualitySum;
    entry.squares += row.qualitySquaredSum;
    entry.efforts.set(row.requestedEffort, (entry.efforts.get(row.requestedEffort) ?? 0) + row.turns);
    byModel.set(row.requestedModel, entry);
  }
  return [...byModel.values()]
    .sort((a, b) => (a.requestedModel < b.requestedModel ? -1 : 1))
    .map(({ efforts, ...baseline }) => ({ ...baseline, effort: [...efforts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? '' }));
}

/** Per-turn variance of quality on the baselines (the GP's noise), or 0.01 before there is enough to pool. */
function pooledVariance(baselines: readonly Baseline[]): number {
  const scored = baselines.reduce((total, entry) => total + entry.scored, 0);
  if (scored < 30) return 0.01;
  let within = 0;
  for (const entry of baselines) if (entry.scored > 0) within += entry.squares - (entry.sum * entry.sum) / entry.scored;
  return Math.max(1e-4, within / (scored - baselines.length));
}

/** Models the cost center may be served (allow-list and provider list, as the gateway checks them). */
function allowedModels(center: CostCenter, policy: PolicyDocument): string[] {
  return center.allowed_models.filter((model) => {
    const definition = policy.models[model];
    return definition !== undefined && (center.allowed_providers.length === 0 || center.allowed_providers.includes(definition.provider));
  });
}

/**
 * Candidates for turns asking `baseline.requestedModel`: allowed cheaper models never served in its
 * place outside exploration (history has no requested → target turns to score them exactly), and the
 * requested model and each such model at one or two effort steps below what clients ask for.
 */
function candidatesFor(baseline: Baseline, input: PlanExplorationInput, center: CostCenter, rows: readonly EvidenceRow[]): Built[] {
  const requestedPrice = priceOf(input.policy, baseline.requestedModel);
  if (!requestedPrice || baseline.turns === 0) return [];
  const requestedCost = costOfTokens(requestedPrice, baseline.inputTokens, baseline.cachedInputTokens, baseline.outputTokens);
  if (!(requestedCost > 0)) return [];
  const monthlySpend = (requestedCost * 30) / Math.max(1, input.observedDays);
  const targets = [baseline.requestedModel, ...allowedModels(center, input.policy).filter((model) => model !== baseline.requestedModel && neverServedFor(input, baseline.requestedModel, model, rows))].sort((a, b) =>
    a === baseline.requestedModel ? -1 : b === baseline.requestedModel ? 1 : a < b ? -1 : 1,
  );
  const efforts: (string | undefined)[] = [undefined, ...(effortRank(baseline.effort) >= 0 ? lowerEfforts(baseline.effort) : [])];
  const built: Built[] = [];
  for (const routeTo of targets)
    for (const effort of efforts) {
      if (routeTo === baseline.requestedModel && effort === undefined) continue;
      const price = priceOf(input.policy, routeTo);
      if (!price) continue;
      const steps = effort === undefined ? 0 : effortRank(baseline.effort) - effortRank(effort);
      const cost = costOfTokens(price, baseline.inputTokens, baseline.cachedInputTokens, baseline.outputTokens * OUTPUT_KEPT_PER_EFFORT_STEP ** steps);
      const saving = monthlySpend * (1 - cost / requestedCost);
      if (!(saving > 0)) continue;
      const id = `${baseline.requestedModel}->${routeTo}${effort === undefined ? '' : `@${effort}`}`;
      const priceRatio = costOfTokens(price, baseline.inputTokens, baseline.cachedInputTokens, baseline.outputTokens) / requestedCost;
      const evidence = evidenceOf(baseline, routeTo, effort, rows);
      built.push({ id, requestedModel: baseline.requestedModel, routeTo, reasoningEffort: effort, features: [Math.min(1, priceRatio), steps / 2], monthlySavingUsd: Math.round(saving * 100) / 100, evidence, components: evidence ? { toolUseAccuracy: evidence.meanRegression, taskCompletion: null, codeCorrectness: null } : null });
    }
  return built;
}

/** Whether no turn asking `requested` was served `target` other than by exploration (aggregates count every turn). */
function neverServedFor(input: PlanExplorationInput, requested: string, target: string, rows: readonly EvidenceRow[]): boolean {
  const served = input.aggregates.filter((row) => row.costCenter === input.costCenter && row.requestedModel === requested && row.servedModel === target).reduce((total, row) => total + row.turns, 0);
  const explored = rows.filter((row) => row.explored && row.requestedModel === requested && row.servedModel === target).reduce((total, row) => total + row.turns, 0);
  return served <= explored;
}

/**
 * The candidate's own scored exploration turns and their quality gap to the baseline. A model-only
 * candidate's turns kept the client's effort; an effort candidate's were served `effort` instead of
 * a higher one the client asked for.
 */
function evidenceOf(baseline: Baseline, routeTo: string, effort: string | undefined, rows: readonly EvidenceRow[]): ExplorationEvidence | undefined {
  let scored = 0;
  let sum = 0;
  for (const row of rows) {
    if (!row.explored || row.requestedModel !== baseline.requestedModel || row.servedModel !== routeTo) continue;
    const matches = effort === undefined ? row.servedEffort === row.requestedEffort : row.servedEffort === effort && row.requestedEffort !== effort;
    if (!matches) continue;
    scored += row.scoredTurns;
    sum += row.qualitySum;
  }
  if (scored === 0 || baseline.scored === 0) return undefined;
  return { turns: scored, meanRegression: baseline.sum / baseline.scored - sum / scored };
}

/** Whether an arm's row belongs to the candidate (same keys as {@link evidenceOf}). */
function ofCandidate(row: { explored: boolean; requestedModel: string; servedModel: string; requestedEffort: string; servedEffort: string }, candidate: Built): boolean {
  if (!row.explored || row.requestedModel !== candidate.requestedModel || row.servedModel !== candidate.routeTo) return false;
  const effort = candidate.reasoningEffort;
  return effort === undefined ? row.servedEffort === row.requestedEffort : row.servedEffort === effort && row.requestedEffort !== effort;
}

/**
 * The candidate's regression with its sessions' outcomes (issue 18: quality is turn validity and
 * session outcomes, weighted by `quality_weights`): each component's gap (baseline − candidate) enters
 * with its weight where both sides have scores, the weights renormalised over those. Exploration is
 * drawn per session, so an explored session's outcome is the candidate's alone. The evidence count
 * stays the candidate's scored turns.
 */
function withSessionOutcomes(candidate: Built, outcomes: readonly OutcomeRow[], weights: QualityWeights): Built {
  if (!candidate.evidence || !candidate.components) return candidate;
  const mean = (rows: readonly OutcomeRow[], pick: (row: OutcomeRow) => { n: number; sum: number }) => {
    const n = rows.reduce((total, row) => total + pick(row).n, 0);
    return n > 0 ? rows.reduce((total, row) => total + pick(row).sum, 0) / n : undefined;
  };
  const baseline = outcomes.filter((row) => !row.explored && row.requestedModel === candidate.requestedModel);
  const explored = outcomes.filter((row) => ofCandidate(row, candidate));
  const gap = (pick: (row: OutcomeRow) => { n: number; sum: number }) => {
    const before = mean(baseline, pick);
    const after = mean(explored, pick);
    return before === undefined || after === undefined ? null : before - after;
  };
  const components: GapComponents = { toolUseAccuracy: candidate.components.toolUseAccuracy, taskCompletion: gap((row) => row.completion), codeCorrectness: gap((row) => row.correctness) };
  const parts: [number, number][] = [];
  for (const [weight, value] of [
    [weights.toolUseAccuracy, components.toolUseAccuracy],
    [weights.taskCompletion, components.taskCompletion],
    [weights.codeCorrectness, components.codeCorrectness],
  ] as const)
    if (value !== null && weight > 0) parts.push([weight, value]);
  const total = parts.reduce((sum, [weight]) => sum + weight, 0);
  if (total === 0) return { ...candidate, components };
  const meanRegression = parts.reduce((sum, [weight, value]) => sum + weight * value, 0) / total;
  return { ...candidate, components, evidence: { ...candidate.evidence, meanRegression } };
}
