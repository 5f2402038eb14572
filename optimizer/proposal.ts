import { createHash } from 'node:crypto';
import type { PolicyDocument, RoutingRule } from '../shared/policy/policy-schema.ts';
import type { CandidateEstimate, Interval } from './estimate-candidate.ts';
import { INPUT_TOKEN_EDGES } from './segment-aggregate.ts';
import { hoursOf, ruleOf, type DaySelection, type ModelPair, type RuleCandidate } from './search-space.ts';

/** One RFC 6902 operation; the optimizer only ever appends a rule. */
export interface PolicyPatchOperation {
  op: 'add';
  path: '/rules/-';
  value: RoutingRule;
}

/** The numbers behind a proposal, stored with it and shown to the approver. */
export interface ProposalMath {
  requestedModel: string;
  targetModel: string;
  /** Rule applies to turns with input_tokens ≤ this. */
  thresholdTokens: number;
  /** [start, end) local hours, or null for the whole day. */
  hours: [number, number] | null;
  days: DaySelection;
  timezone: string;
  samples: CandidateEstimate['samples'] & { observedDays: number; affectedTurns: number };
  baselineQuality: Interval;
  predictedQuality: Interval;
  /** Absolute drop of the mean 0–1 eval score on the affected turns. */
  predictedRegression: { mean: number; standardDeviation: number; upperBound: number; credibleLevel: number; limit: number };
  /** Each component of quality (turn validity, task completion, code correctness): weight, means per side, gap. */
  components: CandidateEstimate['components'];
  predictedMonthlySavingUsd: number;
  windowSavingUsd: number;
  /** Affected turns / all turns of the cost center. */
  trafficShare: number;
  search: { method: 'gaussian-process-expected-improvement'; seed: number; evaluations: number; feasibleEvaluations: number; /** Of the saving surrogate's last fit; null when the budget ended within the initial design. */ lengthScale: number | null };
}

/** A routing-rule proposal: the diff against the active policy, the document it yields, its math. */
export interface OptimizerProposal {
  status: 'proposal';
  costCenter: string;
  proposalId: string;
  summary: string;
  rule: RoutingRule;
  diff: PolicyPatchOperation[];
  /** The active policy with the diff applied. */
  document: PolicyDocument;
  math: ProposalMath;
}

/** A requirement of the warm-up that the data does not meet yet. */
export interface MissingRequirement {
  requirement: 'observed_days' | 'turns' | 'baseline_scored_turns' | 'target_scored_turns';
  have: number;
  need: number;
  /** The model the scored turns are missing on (scored-turn requirements). */
  model?: string | undefined;
  hint: string;
  /** One line for people: "needs 340 more scored turns on gpt-5.1-mini (have 60 of 400)". */
  message: string;
}

export interface InsufficientDataResult {
  status: 'insufficient_data';
  costCenter: string;
  summary: string;
  missing: MissingRequirement[];
}

export interface NoImprovementResult {
  status: 'no_improvement';
  costCenter: string;
  summary: string;
  /** `rolled_back_recently`: the rollback guard reverted this change (cost center, requested → target) within the cool-down; see optimizer/rollback-orchestration.ts. */
  reason: 'no_cheaper_model' | 'no_rule_within_limit' | 'saving_too_small' | 'already_in_policy' | 'rolled_back_recently';
  /** Best rule looked at, when there was one, with its estimate. */
  bestLookedAt?: { rule: RoutingRule; estimate: CandidateEstimate };
}

export type OptimizerResult = OptimizerProposal | InsufficientDataResult | NoImprovementResult;

/** "8K", "1.5K", "192K". */
export function formatTokens(tokens: number): string {
  return tokens >= 1000 ? `${Number((tokens / 1000).toFixed(1))}K` : String(tokens);
}

function formatHour(hour: number): string {
  return `${String(hour % 24 === 0 && hour !== 0 ? 24 : hour).padStart(2, '0')}:00`;
}

function formatUsd(amount: number): string {
  const rounded = amount >= 1000 ? Math.round(amount / 10) * 10 : Math.round(amount);
  return `$${rounded.toLocaleString('en-US')}`;
}

function formatPercent(fraction: number): string {
  return `${(fraction * 100).toFixed(1)}%`;
}

/** The one-line summary an approver reads. */
export function summarise(costCenter: string, math: ProposalMath): string {
  const window = math.hours ? ` between ${formatHour(math.hours[0])} and ${formatHour(math.hours[1])}` : '';
  const days = math.days === 'all' ? '' : math.days === 'weekday' ? ' on weekdays' : ' on weekends';
  return (
    `for ${costCenter}, route ${math.requestedModel} turns under ${formatTokens(math.thresholdTokens)} input tokens to ${math.targetModel}${window}${days}: ` +
    // The bound, not the mean: the mean of a barely-sampled rule can be 0 while its bound is at the limit.
    `regression ≤ ${formatPercent(Math.max(0, math.predictedRegression.upperBound))} (${Math.round(math.predictedRegression.credibleLevel * 100)}% bound), saving ${formatUsd(math.predictedMonthlySavingUsd)}/month`
  );
}

/** Content-derived id: the same data, policy and seed give the same id. */
export function proposalIdOf(costCenter: string, candidate: RuleCandidate, pair: ModelPair, seed: number, policy: PolicyDocument): string {
  const digest = createHash('sha256')
    .update(JSON.stringify({ costCenter, candidate, pair, seed, rules: policy.rules.map((rule) => rule.id) }))
    .digest('hex');
  return `opt_${digest.slice(0, 16)}`;
}

function ruleIdOf(costCenter: string, pair: ModelPair, candidate: RuleCandidate, proposalId: string): string {
  const raw = `opt-${costCenter}-${pair.targetModel}-le${formatTokens(INPUT_TOKEN_EDGES[candidate.thresholdIndex] as number)}-${proposalId.slice(4, 10)}`;
  return raw.replace(/[^A-Za-z0-9_.-]/g, '-');
}

export interface BuildProposalInput {
  costCenter: string;
  timezone: string;
  candidate: RuleCandidate;
  pair: ModelPair;
  estimate: CandidateEstimate;
  policy: PolicyDocument;
  seed: number;
  credibleLevel: number;
  limit: number;
  observedDays: number;
  ruleDryRun: boolean;
  search: ProposalMath['search'];
}

export function buildProposal(input: BuildProposalInput): OptimizerProposal {
  const { costCenter, candidate, pair, estimate, policy } = input;
  const proposalId = proposalIdOf(costCenter, candidate, pair, input.seed, policy);
  const rule = ruleOf(candidate, pair, costCenter, ruleIdOf(costCenter, pair, candidate, proposalId), { proposalId, dryRun: input.ruleDryRun });
  const math: ProposalMath = {
    requestedModel: pair.requestedModel,
    targetModel: pair.targetModel,
    thresholdTokens: INPUT_TOKEN_EDGES[candidate.thresholdIndex] as number,
    hours: hoursOf(candidate) ?? null,
    days: candidate.days,
    timezone: input.timezone,
    samples: { ...estimate.samples, observedDays: input.observedDays, affectedTurns: estimate.affectedTurns },
    baselineQuality: estimate.baselineQuality,
    predictedQuality: estimate.predictedQuality,
    predictedRegression: { ...estimate.regression, credibleLevel: input.credibleLevel, limit: input.limit },
    components: estimate.components,
    predictedMonthlySavingUsd: estimate.monthlySavingUsd,
    windowSavingUsd: estimate.windowSavingUsd,
    trafficShare: estimate.trafficShare,
    search: input.search,
  };
  const diff: PolicyPatchOperation[] = [{ op: 'add', path: '/rules/-', value: rule }];
  return { status: 'proposal', costCenter, proposalId, summary: summarise(costCenter, math), rule, diff, document: { ...policy, rules: [...policy.rules, rule] }, math };
}
