/**
 * What the optimizer is learning for one cost center right now: a candidate history cannot score (a
 * model the cost center was never served, a lowered `reasoning.effort`, or both) gets a small share of
 * its sessions. The optimizer publishes plans (optimizer/exploration-plan.ts); every gateway holds them
 * in memory (shared/exploration/exploration-board.ts) and the policy decision applies them
 * (gateway/policy/evaluate-policy.ts). The share is capped by the policy's `exploration_share` (itself
 * ≤ 0.05): a plan can ask for less, never more.
 */
export interface ExplorationPlan {
  costCenter: string;
  requestedModel: string;
  /** The model to serve (the requested one itself for an effort-only candidate). */
  routeTo: string;
  share: number;
  /** The candidate's id in the optimizer's search (goes on the dry-run note and the status). */
  candidate: string;
  /** Effort to serve instead of the client's, when the candidate lowers it (turns asking for less are left alone). */
  reasoningEffort?: string | undefined;
  /** Epoch milliseconds after which the plan is void: an optimizer that stopped publishing stops exploration. */
  expiresAt?: number | undefined;
}
