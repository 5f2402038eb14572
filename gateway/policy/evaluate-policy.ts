import type { CostCenter, PolicyDocument, RoutingRule } from '../../shared/policy/policy-schema.ts';
import { ruleMatches, type RuleClock } from './match-rule.ts';
import { EXPLORATION_SHARE_CAP, optimizerSettingsOf, sessionDraw } from '../../shared/policy/optimizer-settings.ts';
import { lowersEffort } from '../../shared/policy/reasoning-effort.ts';
import type { ExplorationPlan } from '../../shared/exploration/exploration-plan.ts';

export type BudgetStage = 'ok' | 'alert' | 'downgrade' | 'pause';

/** What the decision needs to know about one request; gathered before any upstream call. */
export interface RequestFacts {
  costCenter: string;
  developer: string;
  tags: string[];
  requestedModel: string;
  inputTokenEstimate: number;
  clock: RuleClock;
  budgetStage: BudgetStage;
  /** Model a sticky session was moved to by an earlier fallback, if still within its window. */
  affinityModel?: string | undefined;
  trailingToolFailures: number;
  /** Uniform draw in [0, 1) for exploration (the caller supplies randomness; the decision stays pure). */
  explorationDraw?: number | undefined;
  /** The client's session: holdout and exploration arms are drawn from it, so a session never switches arm. */
  sessionId?: string | undefined;
  /** What the optimizer is learning for this cost center right now, if anything (see {@link ExplorationPlan}). */
  explorationPlan?: ExplorationPlan | undefined;
  /** The client's `reasoning.effort` (Responses) or `reasoning_effort` (Chat), if it sent one. */
  reasoningEffort?: string | undefined;
}

export type { ExplorationPlan };

/** `spans.experiment_arm`: which arm of an optimizer experiment served the turn ('' = none). */
export type ExperimentArm = '' | 'treatment' | 'holdout' | 'exploration';

export type DenialCode = 'model_not_allowed' | 'provider_not_allowed' | 'budget_exhausted' | 'retry_limit_exceeded';

/** One target in the order it will be tried. `deniedBy` marks a fallback the policy forbids. */
export interface ChainEntry {
  model: string;
  deniedBy?: { code: DenialCode; message: string } | undefined;
}

export type Decision =
  | { kind: 'deny'; code: DenialCode; message: string; param: string | null; dryRunNotes: string[] }
  | {
      kind: 'route';
      servedModel: string;
      chain: ChainEntry[];
      downgradedFrom?: string | undefined;
      affinityFrom?: string | undefined;
      ruleId?: string | undefined;
      ruleDryRun: boolean;
      /** The model exploration moved this turn away from, if it did. */
      exploredFrom?: string | undefined;
      /** The effort served instead of the client's (a rule's `reasoning_effort` or an exploration's), on the decided model only. */
      reasoningEffort?: string | undefined;
      experimentArm: ExperimentArm;
      /** "would have" entries of dry-run parts, and notes on steps that were skipped. */
      dryRunNotes: string[];
    };

const list = (items: string[]) => (items.length > 0 ? items.join(', ') : '(none)');

function allowedModelsMessage(costCenter: string, center: CostCenter | undefined): string {
  return center ? `allowed for ${costCenter}: ${list(center.allowed_models)}` : `cost center ${costCenter} has no entry in the policy`;
}

/** Why `model` may not serve this cost center, or undefined when it may. */
export function modelRefusal(policy: PolicyDocument, costCenter: string, model: string): { code: DenialCode; message: string } | undefined {
  const center = policy.cost_centers[costCenter];
  const definition = policy.models[model];
  if (!center || !definition || !center.allowed_models.includes(model)) {
    const known = definition ? '' : ' (unknown model)';
    return {
      code: 'model_not_allowed',
      message: `gatehouse: model "${model}"${known} is not allowed for cost center "${costCenter}"; ${allowedModelsMessage(costCenter, center)}. Pick one of those (Codex: -m; Claude Code: /model or --model), or ask your platform team to add the model to the cost center's allowed_models.`,
    };
  }
  if (center.allowed_providers.length > 0 && !center.allowed_providers.includes(definition.provider)) {
    return {
      code: 'provider_not_allowed',
      message: `gatehouse: model "${model}" is served by provider "${definition.provider}", which cost center "${costCenter}" does not allow (allowed providers: ${list(center.allowed_providers)}). Pick a model of an allowed provider, or ask your platform team to change allowed_providers.`,
    };
  }
  return undefined;
}

function firstMatchingRule(policy: PolicyDocument, facts: RequestFacts): RoutingRule | undefined {
  for (const rule of policy.rules) {
    if (rule.cost_centers.length > 0 && !rule.cost_centers.includes(facts.costCenter)) continue;
    if (ruleMatches(rule, facts)) return rule;
  }
  return undefined;
}

type Route = Extract<Decision, { kind: 'route' }>;
type Deny = (code: DenialCode, message: string, param?: string | null) => Decision | undefined;

/**
 * The policy decision: a pure function of (policy, request facts). Order: allow-list → retry cap →
 * budget pause → routing rule → sticky affinity → budget downgrade → fallback chain. Dry-run parts
 * (whole gateway, cost center or rule) record what they would have done and change nothing.
 */
export function evaluatePolicy(policy: PolicyDocument, facts: RequestFacts): Decision {
  const notes: string[] = [];
  const center = policy.cost_centers[facts.costCenter];
  const dryRun = policy.dry_run || center?.dry_run === true;
  const deny: Deny = (code, message, param = null) => {
    if (dryRun) {
      notes.push(`would deny ${code}`);
      return undefined;
    }
    return { kind: 'deny', code, message, param, dryRunNotes: notes };
  };

  const refused = requestedModelDenial(policy, facts, center, deny, notes);
  if (refused) return refused;
  if (!center) throw new Error('unreachable: cost center checked above');
  const stopped = sessionDenial(facts, center, deny);
  if (stopped) return stopped;

  // The decision being built; each step below may move `servedModel` and says why in its own field.
  const route: Route = {
    kind: 'route',
    servedModel: facts.requestedModel,
    chain: [],
    downgradedFrom: undefined,
    affinityFrom: undefined,
    ruleId: undefined,
    ruleDryRun: false,
    exploredFrom: undefined,
    reasoningEffort: undefined,
    experimentArm: '',
    dryRunNotes: notes,
  };
  const ruleDenial = applyRoutingRule(policy, facts, dryRun, route);
  if (ruleDenial) return ruleDenial;
  applyAffinity(policy, facts, route);
  applyExploration(policy, facts, center, dryRun, route);
  applyDowngrade(policy, facts, center, dryRun, route);
  route.chain = fallbackChain(policy, facts, center, route);
  return route;
}

/** The requested model against the allow-list. An unknown model or missing cost center has no route, dry run or not. */
function requestedModelDenial(policy: PolicyDocument, facts: RequestFacts, center: CostCenter | undefined, deny: Deny, notes: string[]): Decision | undefined {
  const refusal = modelRefusal(policy, facts.costCenter, facts.requestedModel);
  if (!refusal) return undefined;
  if (!center || !policy.models[facts.requestedModel]) return { kind: 'deny', code: refusal.code, message: refusal.message, param: 'model', dryRunNotes: notes };
  return deny(refusal.code, refusal.message, 'model');
}

/** The session's own stops: too many failed tool calls in a row, or the budget's pause stage. */
function sessionDenial(facts: RequestFacts, center: CostCenter, deny: Deny): Decision | undefined {
  if (facts.trailingToolFailures > center.retry_cap) {
    const denial = deny(
      'retry_limit_exceeded',
      `gatehouse: this session's last ${facts.trailingToolFailures} tool calls failed in a row, above the retry cap of ${center.retry_cap} for cost center "${facts.costCenter}". Stop and look at the failing command or patch yourself, then start a new turn with what you learned (a successful tool call resets the count).`,
    );
    if (denial) return denial;
  }
  if (facts.budgetStage === 'pause') {
    const denial = deny(
      'budget_exhausted',
      `gatehouse: budget exhausted for cost center "${facts.costCenter}" (spend is past the pause stage); model "${facts.requestedModel}" is paused until the budget resets. Ask your platform team for a budget increase if this work cannot wait.`,
    );
    if (denial) return denial;
  }
  return undefined;
}

/** The first matching routing rule moves the turn (treatment), keeps it (holdout), or only notes (dry run). */
function applyRoutingRule(policy: PolicyDocument, facts: RequestFacts, dryRun: boolean, route: Route): Decision | undefined {
  const rule = firstMatchingRule(policy, facts);
  if (!rule) return undefined;
  route.ruleId = rule.id;
  route.ruleDryRun = rule.dry_run || dryRun;
  const refusal = modelRefusal(policy, facts.costCenter, rule.route_to);
  const ruleEffort = lowersEffort(facts.reasoningEffort, rule.reasoning_effort) ? rule.reasoning_effort : undefined;
  if (route.ruleDryRun) {
    route.dryRunNotes.push(`rule ${rule.id} would route ${facts.requestedModel} -> ${rule.route_to}${ruleEffort ? ` at effort ${ruleEffort}` : ''}${refusal ? ` (would deny ${refusal.code})` : ''}`);
  } else if (refusal) {
    return { kind: 'deny', code: refusal.code, message: `${refusal.message} (routed there by rule "${rule.id}")`, param: 'model', dryRunNotes: route.dryRunNotes };
  } else if (rule.proposal_id !== undefined && inHoldout(policy, facts, rule.id)) {
    // The concurrent control of an optimizer rule: these sessions keep the route they had before it.
    route.experimentArm = 'holdout';
    route.dryRunNotes.push(`holdout of rule ${rule.id}: kept ${facts.requestedModel}`);
  } else {
    route.servedModel = rule.route_to;
    route.reasoningEffort = ruleEffort;
    if (rule.proposal_id !== undefined) route.experimentArm = 'treatment';
  }
  return undefined;
}

/** A sticky session stays on the model an earlier fallback moved it to, while that model is still allowed. */
function applyAffinity(policy: PolicyDocument, facts: RequestFacts, route: Route): void {
  if (!facts.affinityModel || facts.affinityModel === route.servedModel) return;
  if (modelRefusal(policy, facts.costCenter, facts.affinityModel)) route.dryRunNotes.push(`affinity to ${facts.affinityModel} ignored: no longer allowed`);
  else {
    route.affinityFrom = route.servedModel;
    route.servedModel = facts.affinityModel;
  }
}

/**
 * Exploration: a small share of turns that nothing else routed goes to another allowed model, so
 * the optimizer sees how it does on this cost center's real traffic (unbiased by routing rules).
 */
function applyExploration(policy: PolicyDocument, facts: RequestFacts, center: CostCenter, dryRun: boolean, route: Route): void {
  const notes = route.dryRunNotes;
  const planned = route.ruleId || route.affinityFrom ? undefined : plannedExploration(policy, facts, route.servedModel, dryRun, notes);
  if (planned) {
    if (planned.model !== route.servedModel) route.exploredFrom = route.servedModel;
    route.servedModel = planned.model;
    route.reasoningEffort = planned.reasoningEffort;
    route.ruleId = 'exploration';
    route.experimentArm = 'exploration';
  }
  const exploration = center.exploration;
  if (exploration && exploration.rate > 0 && !route.ruleId && !route.affinityFrom && facts.explorationDraw !== undefined && facts.explorationDraw < exploration.rate) {
    const candidates = exploration.models.filter((model) => model !== route.servedModel && !modelRefusal(policy, facts.costCenter, model));
    const pick = candidates[Math.min(candidates.length - 1, Math.floor((facts.explorationDraw / exploration.rate) * candidates.length))];
    if (pick && dryRun) notes.push(`exploration would route ${route.servedModel} -> ${pick}`);
    else if (pick) {
      notes.push(`exploration: ${route.servedModel} -> ${pick}`);
      route.exploredFrom = route.servedModel;
      route.servedModel = pick;
      if (!route.ruleId) route.ruleId = 'exploration';
      route.experimentArm = 'exploration';
    }
  }
}

/** At the budget's downgrade stage the served model gives way to its cheaper target, when one is allowed. */
function applyDowngrade(policy: PolicyDocument, facts: RequestFacts, center: CostCenter, dryRun: boolean, route: Route): void {
  if (facts.budgetStage !== 'downgrade') return;
  const served = route.servedModel;
  const target = center.downgrade[served];
  if (!target) route.dryRunNotes.push(`downgrade stage reached but no downgrade target for ${served}`);
  else if (modelRefusal(policy, facts.costCenter, target)) route.dryRunNotes.push(`downgrade ${served} -> ${target} skipped: target not allowed`);
  else if (dryRun) route.dryRunNotes.push(`would downgrade ${served} -> ${target}`);
  else {
    route.downgradedFrom = served;
    route.servedModel = target;
  }
}

/** The served model, then its fallbacks (a forbidden one marked), then what a sticky or exploring turn moved away from. */
function fallbackChain(policy: PolicyDocument, facts: RequestFacts, center: CostCenter, route: Route): ChainEntry[] {
  const { servedModel, affinityFrom, exploredFrom } = route;
  const chain: ChainEntry[] = [{ model: servedModel }];
  const fallbackOrigin = affinityFrom ?? servedModel;
  for (const model of center.fallback[fallbackOrigin] ?? center.fallback[servedModel] ?? []) {
    if (chain.some((entry) => entry.model === model)) continue;
    chain.push({ model, deniedBy: modelRefusal(policy, facts.costCenter, model) });
  }
  // A sticky or exploring turn whose target fails goes back to what was asked for.
  for (const origin of [affinityFrom, exploredFrom]) if (origin && !chain.some((entry) => entry.model === origin)) chain.push({ model: origin });
  return chain;
}

/** Whether this session is in the holdout of optimizer rule `ruleId` (the cost center's `holdout_share`). */
function inHoldout(policy: PolicyDocument, facts: RequestFacts, ruleId: string): boolean {
  if (facts.sessionId === undefined) return false;
  const share = optimizerSettingsOf(policy, facts.costCenter).holdoutShare;
  return share > 0 && sessionDraw(`holdout:${ruleId}`, facts.sessionId) < share;
}

/**
 * The optimizer's exploration: the plan's model (and lowered effort) for a share of sessions, only
 * when the budget is untouched (stage ok), the target is allowed, and never more than the policy's
 * `exploration_share`. An effort candidate applies only to turns whose client asked for more effort
 * than it serves. Returns what to serve, or undefined (dry run only notes what it would have done).
 * Expiry is the plan holder's business (shared/exploration/exploration-board.ts): this stays pure.
 */
function plannedExploration(policy: PolicyDocument, facts: RequestFacts, servedModel: string, dryRun: boolean, notes: string[]): { model: string; reasoningEffort?: string | undefined } | undefined {
  const plan = facts.explorationPlan;
  if (!plan || facts.sessionId === undefined || plan.costCenter !== facts.costCenter || plan.requestedModel !== servedModel) return undefined;
  const effort = plan.reasoningEffort;
  if (effort === undefined ? plan.routeTo === servedModel : !lowersEffort(facts.reasoningEffort, effort)) return undefined;
  if (facts.budgetStage !== 'ok') return undefined;
  const share = Math.min(plan.share, optimizerSettingsOf(policy, facts.costCenter).explorationShare, EXPLORATION_SHARE_CAP);
  if (!(share > 0) || sessionDraw(`exploration:${facts.costCenter}`, facts.sessionId) >= share) return undefined;
  const refusal = modelRefusal(policy, facts.costCenter, plan.routeTo);
  if (refusal) {
    notes.push(`exploration of ${plan.routeTo} skipped: ${refusal.code}`);
    return undefined;
  }
  const what = `${servedModel} -> ${plan.routeTo}${effort === undefined ? '' : ` at effort ${effort} (asked ${facts.reasoningEffort})`} (candidate ${plan.candidate})`;
  if (dryRun) {
    notes.push(`exploration would route ${what}`);
    return undefined;
  }
  notes.push(`exploration: ${what}`);
  return { model: plan.routeTo, reasoningEffort: effort };
}
