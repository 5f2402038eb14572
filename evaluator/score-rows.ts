import { parseUtcMillis, type TurnDimensions } from '../shared/tool-signals/extract-turn-signals.ts';
import type { StoredCall, StoredOutcome, StoredTurn } from './session-state/session-state.ts';
import type { ScoreResult, Scorer } from './scorers/scorer.ts';
import type { EvalScoreRow } from '../shared/telemetry/eval-score-row.ts';

/** Where rows go: a `BatchWriter` (batched, spooled inserts), or anything with the same `write`. */
export interface ScoreSink {
  write(table: string, rows: Record<string, unknown>[]): void;
}

export const EVAL_SCORES_TABLE = 'eval_scores';
export const TOOL_CALLS_TABLE = 'tool_calls';

export type { EvalScoreRow };

const EMPTY_DIMENSIONS: TurnDimensions = {
  served_model: '',
  provider: '',
  cost_center: '',
  developer: '',
  policy_version: 0,
  rule_id: '',
  requested_model: '',
  input_token_bucket: 0,
  hour: 0,
  dry_run: false,
};

/** ClickHouse DateTime64(3) text in UTC. */
export function clickhouseTime(value: string | number): string {
  const date = new Date(typeof value === 'number' ? value : parseUtcMillis(value));
  if (Number.isNaN(date.getTime())) return new Date(0).toISOString().replace('T', ' ').replace('Z', '');
  return date.toISOString().replace('T', ' ').replace('Z', '');
}

export function turnScoreRow(sessionId: string, turn: StoredTurn, scorer: Scorer, result: ScoreResult, nowMillis: number): EvalScoreRow {
  return {
    ts: clickhouseTime(turn.ts),
    session_id: sessionId,
    turn_id: turn.turnId,
    request_id: turn.requestId,
    level: 'turn',
    scorer: scorer.name,
    scorer_version: scorer.version,
    value: result.value,
    reasons: result.reasons,
    ...turn.dims,
    scored_at: clickhouseTime(nowMillis),
  };
}

/** Session scores carry the first turn's time (stable partition on re-scoring) and the last served turn's dimensions. */
export function sessionScoreRow(sessionId: string, firstTurn: StoredTurn, dimensionsTurn: StoredTurn, scorer: Scorer, result: ScoreResult, nowMillis: number): EvalScoreRow {
  return {
    ts: clickhouseTime(firstTurn.ts),
    session_id: sessionId,
    turn_id: '',
    request_id: '',
    level: 'session',
    scorer: scorer.name,
    scorer_version: scorer.version,
    value: result.value,
    reasons: result.reasons,
    ...dimensionsTurn.dims,
    scored_at: clickhouseTime(nowMillis),
  };
}

export type ToolCallStage = 0 | 1 | 2;

/** A `gatehouse.tool_calls` row; `stage` 0 made, 1 missing at session end, 2 result seen. */
export function toolCallRow(
  sessionId: string,
  callId: string,
  maker: { turn: StoredTurn; call: StoredCall } | undefined,
  fallback: { ts: string; name: string; category: string; runner: string; command: string },
  outcome: (StoredOutcome & { status: string }) | { status: 'pending' | 'missing'; exitCode: null; resultRequestId: '' },
  stage: ToolCallStage,
  nowMillis: number,
): Record<string, unknown> {
  const dims = maker?.turn.dims ?? EMPTY_DIMENSIONS;
  return {
    ts: clickhouseTime(maker?.turn.ts ?? fallback.ts),
    session_id: sessionId,
    call_id: callId,
    request_id: maker?.turn.requestId ?? '',
    turn_id: maker?.turn.turnId ?? '',
    turn_seq: maker?.turn.turnSeq ?? 0,
    developer: dims.developer,
    cost_center: dims.cost_center,
    served_model: dims.served_model,
    provider: dims.provider,
    policy_version: dims.policy_version,
    rule_id: dims.rule_id,
    tool_name: maker?.call.name ?? fallback.name,
    tool_kind: maker?.call.kind ?? '',
    validity: maker?.call.validity ?? 'unchecked',
    validity_reason: maker?.call.reason ?? '',
    category: maker?.call.category ?? fallback.category,
    runner: maker?.call.runner ?? fallback.runner,
    command: maker?.call.command || fallback.command,
    outcome: outcome.status,
    exit_code: outcome.exitCode,
    result_request_id: outcome.resultRequestId,
    stage,
    updated_at: clickhouseTime(nowMillis),
  };
}
