import type { CostCenter, PolicyDocument, RoutingRule } from '../shared/policy/policy-schema.ts';
import { INPUT_TOKEN_EDGES, costOfTokens, type DayType, type SegmentAggregate } from './segment-aggregate.ts';
import { policyModelPrice } from '../shared/pricing/model-catalog.ts';

/** A requested model and a cheaper model the cost center may be routed to instead. */
export interface ModelPair {
  requestedModel: string;
  targetModel: string;
}

/** Which days a candidate rule applies on. */
export type DaySelection = 'all' | 'weekday' | 'weekend';
export const DAY_SELECTIONS: readonly DaySelection[] = ['all', 'weekday', 'weekend'];

/**
 * One point of the search space: "for the cost center, turns requesting `pair.requestedModel`
 * with input ≤ INPUT_TOKEN_EDGES[thresholdIndex], in hours [startHour, startHour + lengthHours)
 * (wrapping midnight), on `days` → `pair.targetModel`".
 */
export interface RuleCandidate {
  pairIndex: number;
  thresholdIndex: number;
  /** 0–23; always 0 when `lengthHours` is 24 (the whole day). */
  startHour: number;
  /** 1–24. */
  lengthHours: number;
  days: DaySelection;
}

export function candidateKey(candidate: RuleCandidate): string {
  return `${candidate.pairIndex}/${candidate.thresholdIndex}/${candidate.startHour}/${candidate.lengthHours}/${candidate.days}`;
}

/** Normalises a candidate: whole-day windows have start 0, values are clamped into range. */
export function normaliseCandidate(candidate: RuleCandidate, pairCount: number): RuleCandidate {
  const lengthHours = Math.min(24, Math.max(1, candidate.lengthHours));
  return {
    pairIndex: Math.min(pairCount - 1, Math.max(0, candidate.pairIndex)),
    thresholdIndex: Math.min(INPUT_TOKEN_EDGES.length - 1, Math.max(0, candidate.thresholdIndex)),
    startHour: lengthHours === 24 ? 0 : ((candidate.startHour % 24) + 24) % 24,
    lengthHours,
    days: candidate.days,
  };
}

/** Whether an aggregate cell (bucket, hour, day type) lies inside the candidate's region. */
export function candidateCovers(candidate: RuleCandidate, bucket: number, hour: number, dayType: DayType): boolean {
  if (bucket > candidate.thresholdIndex) return false;
  if (candidate.days !== 'all' && candidate.days !== dayType) return false;
  if (candidate.lengthHours === 24) return true;
  return (hour - candidate.startHour + 24) % 24 < candidate.lengthHours;
}

/** Every candidate of the space, in a fixed order (the search samples from it). */
export function enumerateCandidates(pairCount: number): RuleCandidate[] {
  const candidates: RuleCandidate[] = [];
  for (let pairIndex = 0; pairIndex < pairCount; pairIndex += 1)
    for (const days of DAY_SELECTIONS)
      for (let thresholdIndex = 0; thresholdIndex < INPUT_TOKEN_EDGES.length; thresholdIndex += 1) {
        candidates.push({ pairIndex, thresholdIndex, startHour: 0, lengthHours: 24, days });
        for (let startHour = 0; startHour < 24; startHour += 1)
          for (let lengthHours = 1; lengthHours < 24; lengthHours += 1) candidates.push({ pairIndex, thresholdIndex, startHour, lengthHours, days });
      }
  return candidates;
}

/** Candidates one step away in each dimension (the local moves the acquisition also scores). */
export function neighbours(candidate: RuleCandidate, pairCount: number): RuleCandidate[] {
  const moves: RuleCandidate[] = [];
  const push = (change: Partial<RuleCandidate>) => moves.push(normaliseCandidate({ ...candidate, ...change }, pairCount));
  for (const step of [-1, 1, -2, 2]) push({ thresholdIndex: candidate.thresholdIndex + step });
  if (candidate.lengthHours === 24) {
    for (let startHour = 0; startHour < 24; startHour += 1) push({ startHour, lengthHours: 23 });
  } else {
    for (const step of [-1, 1]) {
      push({ startHour: candidate.startHour + step, lengthHours: candidate.lengthHours - step });
      push({ lengthHours: candidate.lengthHours + step });
      push({ startHour: candidate.startHour + step });
    }
  }
  for (let pairIndex = 0; pairIndex < pairCount; pairIndex += 1) if (pairIndex !== candidate.pairIndex) push({ pairIndex });
  for (const days of DAY_SELECTIONS) if (days !== candidate.days) push({ days });
  return moves.filter((move) => candidateKey(move) !== candidateKey(candidate));
}

/**
 * Features for the Gaussian process, each roughly in [0, 1]: threshold position, the window's
 * start on a circle (so 23h and 0h are neighbours), its length, and one-hot pair and day choice.
 */
export function encodeCandidate(candidate: RuleCandidate, pairCount: number): number[] {
  const angle = (2 * Math.PI * candidate.startHour) / 24;
  const radius = candidate.lengthHours === 24 ? 0 : 1 / (2 * Math.PI);
  const features = [
    candidate.thresholdIndex / (INPUT_TOKEN_EDGES.length - 1),
    radius * Math.cos(angle),
    radius * Math.sin(angle),
    candidate.lengthHours / 24,
  ];
  for (let pairIndex = 0; pairIndex < pairCount; pairIndex += 1) features.push(pairIndex === candidate.pairIndex ? Math.SQRT1_2 : 0);
  for (const days of DAY_SELECTIONS) features.push(days === candidate.days ? Math.SQRT1_2 : 0);
  return features;
}

/** `hours` of a rule: [start, end) with end in 1–24; start > end wraps midnight. */
export function hoursOf(candidate: RuleCandidate): [number, number] | undefined {
  if (candidate.lengthHours === 24) return undefined;
  const end = candidate.startHour + candidate.lengthHours;
  return [candidate.startHour, end > 24 ? end - 24 : end];
}

const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri'] as const;
const WEEKEND = ['sat', 'sun'] as const;

/** The routing rule a candidate stands for (schema-valid `RuleSchema` output). */
export function ruleOf(candidate: RuleCandidate, pair: ModelPair, costCenter: string, id: string, options: { proposalId: string; dryRun: boolean }): RoutingRule {
  const hours = hoursOf(candidate);
  const when: RoutingRule['when'] = {
    requested_models: [pair.requestedModel],
    input_tokens: { max: INPUT_TOKEN_EDGES[candidate.thresholdIndex] as number },
  };
  if (hours) when.hours = hours;
  if (candidate.days === 'weekday') when.days = [...WEEKDAYS];
  if (candidate.days === 'weekend') when.days = [...WEEKEND];
  return {
    id,
    description: `optimizer: ${pair.requestedModel} → ${pair.targetModel} for small turns`,
    cost_centers: [costCenter],
    when,
    route_to: pair.targetModel,
    dry_run: options.dryRun,
    proposal_id: options.proposalId,
  };
}

/**
 * The pairs worth searching for a cost center: requested models seen in its traffic, and
 * targets it may use (allow-list and provider list, checked like the gateway does: an empty
 * allow-list allows nothing) that cost less on its own token mix.
 */
export function modelPairsFor(costCenterName: string, center: CostCenter, policy: PolicyDocument, aggregates: readonly SegmentAggregate[]): ModelPair[] {
  const mix = new Map<string, { input: number; cached: number; output: number }>();
  for (const row of aggregates) {
    if (row.costCenter !== costCenterName || row.servedModel !== row.requestedModel) continue;
    const tokens = mix.get(row.requestedModel) ?? { input: 0, cached: 0, output: 0 };
    tokens.input += row.inputTokens;
    tokens.cached += row.cachedInputTokens;
    tokens.output += row.outputTokens;
    mix.set(row.requestedModel, tokens);
  }
  const allowed = center.allowed_models.filter((model) => {
    const definition = policy.models[model];
    return definition !== undefined && (center.allowed_providers.length === 0 || center.allowed_providers.includes(definition.provider));
  });
  const pairs: ModelPair[] = [];
  for (const [requestedModel, tokens] of [...mix].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const requestedPrice = policyModelPrice(policy.models, requestedModel);
    if (!requestedPrice) continue;
    const requestedCost = costOfTokens(requestedPrice, tokens.input, tokens.cached, tokens.output);
    for (const targetModel of [...allowed].sort()) {
      if (targetModel === requestedModel) continue;
      const targetPrice = policyModelPrice(policy.models, targetModel);
      if (targetPrice && costOfTokens(targetPrice, tokens.input, tokens.cached, tokens.output) < requestedCost) pairs.push({ requestedModel, targetModel });
    }
  }
  return pairs;
}
