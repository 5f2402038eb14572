import type { TurnDimensions } from '../tool-signals/extract-turn-signals.ts';

/** A `gatehouse.eval_scores` row (migration 0011): written by the evaluator, read by the optimizer. */
export interface EvalScoreRow extends TurnDimensions {
  ts: string;
  session_id: string;
  /** Empty for session-level scores. */
  turn_id: string;
  request_id: string;
  level: 'turn' | 'session';
  scorer: string;
  scorer_version: number;
  /** 0–1. */
  value: number;
  reasons: string[];
  scored_at: string;
}
