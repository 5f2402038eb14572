import { createHash } from 'node:crypto';
import type { PolicyDocument, RoutingRule } from '../shared/policy/policy-schema.ts';
import type { CandidateView, CostCenterExploration } from './exploration-plan.ts';
import type { PolicyPatchOperation } from './proposal.ts';

/**
 * Proposals from what exploration learnt (issue 18: "proposals come only from candidates with enough
 * evidence"). A lowered-effort candidate is proposed as a rule with `reasoning_effort` once its own
 * scored exploration turns reach the warm-up's number and the upper bound of its regression is within
 * the limit (explore.ts `proposable`). A model-only candidate needs no rule of its own: its exploration
 * turns are requested → target turns in the aggregates, so the exhaustive search (optimize-segments.ts)
 * proposes it once they pass the same warm-up.
 */
export interface ExplorationProposal {
  costCenter: string;
  proposalId: string;
  summary: string;
  rule: RoutingRule;
  diff: PolicyPatchOperation[];
  document: PolicyDocument;
  math: Record<string, unknown>;
}

const CREDIBLE_LEVEL = 0.95;
const Z_95 = 1.6448536269514722;

const sameChange = (a: RoutingRule, b: RoutingRule) =>
  JSON.stringify([[...a.cost_centers].sort(), a.when.requested_models ?? [], a.route_to, a.reasoning_effort ?? '']) === JSON.stringify([[...b.cost_centers].sort(), b.when.requested_models ?? [], b.route_to, b.reasoning_effort ?? '']);

/** The proposal for the best proposable effort candidate of a cost center, or undefined. */
export function explorationProposal(exploration: CostCenterExploration, policy: PolicyDocument, seed: number): ExplorationProposal | undefined {
  const ready = exploration.candidates.filter((candidate) => candidate.proposable && candidate.reasoningEffort !== undefined).sort((a, b) => b.monthlySavingUsd - a.monthlySavingUsd || (a.id < b.id ? -1 : 1));
  for (const candidate of ready) {
    const proposal = build(exploration, candidate, policy, seed);
    if (!policy.rules.some((rule) => !rule.dry_run && sameChange(rule, proposal.rule))) return proposal;
  }
  return undefined;
}

function build(exploration: CostCenterExploration, candidate: CandidateView, policy: PolicyDocument, seed: number): ExplorationProposal {
  const { costCenter } = exploration;
  const digest = createHash('sha256').update(JSON.stringify({ costCenter, candidate: candidate.id, seed, rules: policy.rules.map((rule) => rule.id) })).digest('hex');
  const proposalId = `opt_${digest.slice(0, 16)}`;
  const effort = candidate.reasoningEffort as string;
  const rule: RoutingRule = {
    id: `opt-${costCenter}-${candidate.routeTo}-effort-${effort}-${digest.slice(0, 6)}`.replace(/[^A-Za-z0-9_.-]/g, '-'),
    description: `optimizer: ${candidate.requestedModel} → ${candidate.routeTo} at reasoning effort ${effort} (learnt by exploration)`,
    cost_centers: [costCenter],
    when: { requested_models: [candidate.requestedModel] },
    route_to: candidate.routeTo,
    reasoning_effort: effort as RoutingRule['reasoning_effort'],
    dry_run: false,
    proposal_id: proposalId,
  };
  const upperBound = candidate.posteriorMean + Z_95 * candidate.posteriorStandardDeviation;
  const math = {
    requestedModel: candidate.requestedModel,
    targetModel: candidate.routeTo,
    reasoningEffort: effort,
    candidate: candidate.id,
    predictedRegression: { mean: candidate.posteriorMean, standardDeviation: candidate.posteriorStandardDeviation, upperBound, credibleLevel: CREDIBLE_LEVEL, limit: exploration.limit },
    observedRegression: candidate.meanRegression,
    predictedMonthlySavingUsd: candidate.monthlySavingUsd,
    samples: { explorationScoredTurns: candidate.scoredTurns, baselineScoredTurns: exploration.baselineScoredTurns, minEvidence: exploration.minEvidence },
    search: { method: 'gaussian-process-exploration', seed },
  };
  const target = candidate.routeTo === candidate.requestedModel ? '' : ` on ${candidate.routeTo}`;
  const summary =
    `for ${costCenter}, serve ${candidate.requestedModel} turns${target} at reasoning effort ${effort} (when asked higher): ` +
    `regression ≤ ${(Math.max(0, upperBound) * 100).toFixed(1)}% (95% bound, ${candidate.scoredTurns} scored exploration turns), saving $${Math.round(candidate.monthlySavingUsd).toLocaleString('en-US')}/month`;
  const diff: PolicyPatchOperation[] = [{ op: 'add', path: '/rules/-', value: rule }];
  return { costCenter, proposalId, summary, rule, diff, document: { ...policy, rules: [...policy.rules, rule] }, math };
}
