/**
 * `reasoning.effort` levels in increasing order (OpenAI's names; Chat's `reasoning_effort` uses the
 * same). The optimizer's exploration and its effort candidates only ever lower an effort: a turn
 * is rewritten when the client asked for more than the candidate's level.
 */
export const REASONING_EFFORTS = ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'] as const;
export type ReasoningEffort = (typeof REASONING_EFFORTS)[number];

/** Position of `effort` in {@link REASONING_EFFORTS}, or -1 for a value outside it. */
export function effortRank(effort: string | undefined): number {
  return effort === undefined ? -1 : (REASONING_EFFORTS as readonly string[]).indexOf(effort);
}

/** Whether serving `to` instead of `from` lowers the effort (both known levels). */
export function lowersEffort(from: string | undefined, to: string | undefined): boolean {
  const fromRank = effortRank(from);
  const toRank = effortRank(to);
  return fromRank >= 0 && toRank >= 0 && toRank < fromRank;
}

/** Efforts the optimizer tries below `from` (one and two steps down, never below `low`). */
export function lowerEfforts(from: string): ReasoningEffort[] {
  const rank = effortRank(from);
  const floor = effortRank('low');
  return REASONING_EFFORTS.filter((_, index) => index >= floor && index < rank && index >= rank - 2).reverse();
}
