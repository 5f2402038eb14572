import type { SessionSnapshot, StoredCall, StoredOutcome, StoredTurn } from '../session-state/session-state.ts';

/** A score: `value` in [0, 1] and the reasons a reviewer reads next to it. */
export interface ScoreResult {
  value: number;
  reasons: string[];
}

export interface TurnScoreInput {
  turn: StoredTurn;
  /** Calls the model made in this turn, in order. */
  calls: StoredCall[];
  /** First results of those calls known so far. */
  outcomes: ReadonlyMap<string, StoredOutcome>;
  /** True when scored by the session job: calls without a result will never get one. */
  sessionEnded: boolean;
}

export interface SessionScoreInput extends SessionSnapshot {
  sessionId: string;
}

interface ScorerBase {
  /** Stored in `eval_scores.scorer`. */
  name: string;
  /** Stored in `eval_scores.scorer_version`; bump it when the scoring changes. */
  version: number;
}

/** Scores one turn. Return `null` when the scorer does not apply (e.g. a turn without tool calls). */
export interface TurnScorer extends ScorerBase {
  appliesTo: 'turn';
  /**
   * `turn`: scored as soon as the turn arrives. `outcomes`: scored when the results of the turn's
   * calls are known (they arrive with the next request) or at session end.
   */
  needs: 'turn' | 'outcomes';
  score(input: TurnScoreInput): ScoreResult | null | Promise<ScoreResult | null>;
}

/** Scores a finished session (no new turn for `session_idle_seconds`). */
export interface SessionScorer extends ScorerBase {
  appliesTo: 'session';
  score(input: SessionScoreInput): ScoreResult | null | Promise<ScoreResult | null>;
}

export type Scorer = TurnScorer | SessionScorer;

export function clampScore(value: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(1, Math.max(0, Math.round(value * 10_000) / 10_000));
}

/** `exec_command#call_abc` style label used in reasons (no arguments, no content). */
export function callLabel(call: Pick<StoredCall, 'name' | 'callId' | 'runner'>): string {
  return `${call.name || 'tool'}${call.runner ? `(${call.runner})` : ''}#${call.callId}`;
}
