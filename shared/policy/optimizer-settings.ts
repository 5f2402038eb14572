import type { OptimizerPolicy, PolicyDocument } from './policy-schema.ts';

/** The optimizer settings in force for one cost center: defaults ← global `optimizer` ← the cost center's own. */
export interface OptimizerSettings {
  warmUp: {
    minDays: number;
    minTurns: number;
    /** Scored turns served by the requested model (the baseline arm). */
    minBaselineScoredTurns: number;
    /** Scored turns that asked for the requested model and were served by the cheaper one (the target arm). */
    minTargetScoredTurns: number;
  };
  holdoutShare: number;
  explorationShare: number;
  /** Normalised to sum 1 (all zero falls back to the defaults). */
  qualityWeights: QualityWeights;
}

export interface QualityWeights {
  /** Turn-level validity: the mean of a turn's turn-level scores (tool_call_validity, tool_use_accuracy). */
  toolUseAccuracy: number;
  /** Session-level `task_completion`. */
  taskCompletion: number;
  /** Session-level `code_correctness`. */
  codeCorrectness: number;
}

/** Hard ceiling of `exploration_share` (also enforced by the schema). */
export const EXPLORATION_SHARE_CAP = 0.05;

/**
 * Defaults. Warm-up keeps the numbers the optimizer always used (7 days, 1,000 turns, 300 baseline and
 * 200 target scored turns); `min_scored_turns`, when set, applies to both arms. Quality: a turn that is
 * well-formed but never finishes the task is not a good turn, so session outcomes weigh as much as
 * turn validity together.
 */
export const DEFAULT_OPTIMIZER_SETTINGS: OptimizerSettings = Object.freeze({
  warmUp: Object.freeze({ minDays: 7, minTurns: 1000, minBaselineScoredTurns: 300, minTargetScoredTurns: 200 }),
  holdoutShare: 0.05,
  explorationShare: 0,
  qualityWeights: Object.freeze({ toolUseAccuracy: 0.4, taskCompletion: 0.4, codeCorrectness: 0.2 }),
}) as OptimizerSettings;

function merged(global: OptimizerPolicy | undefined, own: OptimizerPolicy | undefined): OptimizerPolicy {
  return {
    warm_up: { ...global?.warm_up, ...own?.warm_up },
    holdout_share: own?.holdout_share ?? global?.holdout_share,
    exploration_share: own?.exploration_share ?? global?.exploration_share,
    quality_weights: { ...global?.quality_weights, ...own?.quality_weights },
  };
}

/** Resolved optimizer settings of `costCenter` (a cost center the policy lacks gets the global ones). */
export function optimizerSettingsOf(policy: Pick<PolicyDocument, 'optimizer' | 'cost_centers'>, costCenter: string): OptimizerSettings {
  const raw = merged(policy.optimizer, policy.cost_centers[costCenter]?.optimizer);
  const defaults = DEFAULT_OPTIMIZER_SETTINGS;
  const scored = raw.warm_up?.min_scored_turns;
  const weights = {
    toolUseAccuracy: raw.quality_weights?.tool_use_accuracy ?? defaults.qualityWeights.toolUseAccuracy,
    taskCompletion: raw.quality_weights?.task_completion ?? defaults.qualityWeights.taskCompletion,
    codeCorrectness: raw.quality_weights?.code_correctness ?? defaults.qualityWeights.codeCorrectness,
  };
  const total = weights.toolUseAccuracy + weights.taskCompletion + weights.codeCorrectness;
  return {
    warmUp: {
      minDays: raw.warm_up?.min_days ?? defaults.warmUp.minDays,
      minTurns: raw.warm_up?.min_turns ?? defaults.warmUp.minTurns,
      minBaselineScoredTurns: scored ?? defaults.warmUp.minBaselineScoredTurns,
      minTargetScoredTurns: scored ?? defaults.warmUp.minTargetScoredTurns,
    },
    holdoutShare: raw.holdout_share ?? defaults.holdoutShare,
    explorationShare: Math.min(EXPLORATION_SHARE_CAP, raw.exploration_share ?? defaults.explorationShare),
    qualityWeights:
      total > 0
        ? { toolUseAccuracy: weights.toolUseAccuracy / total, taskCompletion: weights.taskCompletion / total, codeCorrectness: weights.codeCorrectness / total }
        : { ...defaults.qualityWeights },
  };
}

/**
 * A session's position in [0, 1) for one experiment (`salt`): FNV-1a of salt and session id. Pure and
 * cheap (no allocation beyond the loop), so every replica puts a session in the same arm on every turn.
 */
export function sessionDraw(salt: string, sessionId: string): number {
  let hash = 0x811c9dc5;
  for (let index = 0; index < salt.length; index += 1) hash = Math.imul(hash ^ salt.charCodeAt(index), 0x01000193);
  hash = Math.imul(hash ^ 0x3a, 0x01000193);
  for (let index = 0; index < sessionId.length; index += 1) hash = Math.imul(hash ^ sessionId.charCodeAt(index), 0x01000193);
  // Finalise (murmur3 fmix32): FNV's low bits alone are poorly mixed for similar ids.
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return (hash >>> 0) / 4294967296;
}
