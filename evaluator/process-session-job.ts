import { EvaluationDeferredError, PermanentEvaluationError } from '../shared/queue/evaluation-errors.ts';
import { scoreOutcomeScorers, type EvaluatorRuntime } from './process-turn-job.ts';
import { EVAL_SCORES_TABLE, sessionScoreRow, TOOL_CALLS_TABLE, toolCallRow, type EvalScoreRow } from './score-rows.ts';
import type { StoredTurn } from './session-state/session-state.ts';

/** Job data of the per-session completion job (JSON). Replaced by every new turn while delayed. */
export interface SessionJobData {
  sessionId: string;
  lastRequestId: string;
  lastTurnSeq: number;
  /** Gateway wall clock (ms) of the last turn handed over. */
  lastHandledAtMillis: number;
}

export interface SessionJobResult {
  scores: number;
  turns: number;
}

function assertSessionJobData(data: unknown): asserts data is SessionJobData {
  const value = data as Partial<SessionJobData> | null;
  if (value === null || typeof value !== 'object' || typeof value.sessionId !== 'string' || value.sessionId === '' || typeof value.lastHandledAtMillis !== 'number')
    throw new PermanentEvaluationError('session job data is not SessionJobData');
}

function served(turn: StoredTurn): boolean {
  return turn.errorCode === '' && turn.statusCode < 400;
}

/**
 * Session job: runs once the session has been idle for `session_idle_seconds`. Scores what only the
 * whole session shows (code correctness, task completion, optional judge) and the turns whose
 * call results never arrived. Re-running it writes the same keys (idempotent); a session that
 * resumes later gets a new job and its scores are replaced.
 */
export async function processSessionJob(data: unknown, runtime: EvaluatorRuntime, jobId: string): Promise<SessionJobResult> {
  assertSessionJobData(data);
  const now = runtime.now();
  const snapshot = await runtime.state.load(data.sessionId);
  const age = now - data.lastHandledAtMillis;
  if (snapshot.turns.length === 0) {
    if (age < runtime.sessionIdleMillis + runtime.deferLimitMillis) throw new EvaluationDeferredError('session has no recorded turn yet', runtime.deferDelayMillis);
    return { scores: 0, turns: 0 };
  }
  const lastHandled = Math.max(data.lastHandledAtMillis, ...snapshot.turns.map((turn) => turn.handledAtMillis));
  const idleFor = now - lastHandled;
  // 5% slack absorbs clock differences between the gateway that stamped the turn and this worker.
  if (idleFor < runtime.sessionIdleMillis * 0.95) throw new EvaluationDeferredError('session is not idle yet', runtime.sessionIdleMillis - idleFor);
  if (!snapshot.turns.some((turn) => turn.requestId === data.lastRequestId) && age < runtime.sessionIdleMillis + runtime.deferLimitMillis)
    throw new EvaluationDeferredError('the last turn is not recorded yet', runtime.deferDelayMillis);

  const rows: EvalScoreRow[] = [];
  for (const turn of snapshot.turns) {
    if (turn.callIds.length === 0 || snapshot.claims.has(turn.requestId)) continue;
    const calls = snapshot.calls.filter((call) => call.requestId === turn.requestId);
    rows.push(...(await scoreOutcomeScorers(runtime, data.sessionId, turn, calls, snapshot.outcomes, true, jobId)));
  }
  const first = snapshot.turns[0] as StoredTurn;
  const dimensionsTurn = [...snapshot.turns].reverse().find(served) ?? (snapshot.turns[snapshot.turns.length - 1] as StoredTurn);
  const failures: string[] = [];
  for (const scorer of runtime.sessionScorers) {
    try {
      const result = await scorer.score({ sessionId: data.sessionId, ...snapshot });
      if (result) rows.push(sessionScoreRow(data.sessionId, first, dimensionsTurn, scorer, result, runtime.now()));
    } catch (error) {
      // One failing scorer (an unreachable judge) must not hold back the others' rows.
      failures.push(`${scorer.name}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const turnsById = new Map(snapshot.turns.map((turn) => [turn.requestId, turn]));
  const missing = { status: 'missing', exitCode: null, resultRequestId: '' } as const;
  const toolRows = snapshot.calls
    .filter((call) => !snapshot.outcomes.has(call.callId))
    .map((call) => {
      const turn = turnsById.get(call.requestId);
      return toolCallRow(data.sessionId, call.callId, turn ? { turn, call } : undefined, { ts: first.ts, ...call }, missing, 1, now);
    });
  runtime.sink.write(EVAL_SCORES_TABLE, rows as unknown as Record<string, unknown>[]);
  runtime.sink.write(TOOL_CALLS_TABLE, toolRows);
  // Rows written so far are keyed, so the retry rewrites them harmlessly.
  if (failures.length > 0) throw new Error(`session scorers failed: ${failures.join('; ')}`);
  return { scores: rows.length, turns: snapshot.turns.length };
}
