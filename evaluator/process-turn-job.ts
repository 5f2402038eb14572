import { PermanentEvaluationError } from '../shared/queue/evaluation-errors.ts';
import type { ToolResultSignal, TurnSignals } from '../shared/tool-signals/extract-turn-signals.ts';
import { EVAL_SCORES_TABLE, TOOL_CALLS_TABLE, toolCallRow, turnScoreRow, type EvalScoreRow, type ScoreSink } from './score-rows.ts';
import type { SessionScorer, TurnScorer } from './scorers/scorer.ts';
import type { SessionState, StoredCall, StoredOutcome, StoredTurn } from './session-state/session-state.ts';

/** What the job processors share. */
export interface EvaluatorRuntime {
  state: SessionState;
  sink: ScoreSink;
  turnScorers: TurnScorer[];
  sessionScorers: SessionScorer[];
  sessionIdleMillis: number;
  /** How long a session job may wait for turns another job has not recorded yet. */
  deferLimitMillis: number;
  deferDelayMillis: number;
  now(): number;
}

export interface TurnJobResult {
  scores: number;
  toolCalls: number;
}

function assertTurnSignals(data: unknown): asserts data is TurnSignals {
  const signals = data as Partial<TurnSignals> | null;
  if (
    signals === null ||
    typeof signals !== 'object' ||
    typeof signals.requestId !== 'string' ||
    typeof signals.sessionId !== 'string' ||
    !Array.isArray(signals.calls) ||
    !Array.isArray(signals.results) ||
    typeof signals.dims !== 'object'
  )
    throw new PermanentEvaluationError('turn job data is not TurnSignals');
}

export function storedTurnOf(signals: TurnSignals): StoredTurn {
  return {
    requestId: signals.requestId,
    turnId: signals.turnId,
    turnSeq: signals.turnSeq,
    ts: signals.ts,
    handledAtMillis: signals.handledAtMillis,
    statusCode: signals.statusCode,
    errorCode: signals.errorCode,
    finalAnswer: signals.finalAnswer,
    trailingFailedResults: signals.trailingFailedResults,
    callIds: signals.calls.map((call) => call.callId),
    dims: signals.dims,
  };
}

function storedCallsOf(signals: TurnSignals): StoredCall[] {
  return signals.calls.map((call, index) => ({
    callId: call.callId,
    requestId: signals.requestId,
    turnSeq: signals.turnSeq,
    index,
    name: call.name,
    kind: call.kind,
    validity: call.validity,
    reason: call.reason,
    category: call.category,
    runner: call.runner,
    command: call.command,
  }));
}

/** Scores a turn's outcome-dependent scorers once (claimed per request), returning rows. */
export async function scoreOutcomeScorers(
  runtime: EvaluatorRuntime,
  sessionId: string,
  turn: StoredTurn,
  calls: StoredCall[],
  outcomes: ReadonlyMap<string, StoredOutcome>,
  sessionEnded: boolean,
  owner: string,
): Promise<EvalScoreRow[]> {
  const scorers = runtime.turnScorers.filter((scorer) => scorer.needs === 'outcomes');
  if (scorers.length === 0 || calls.length === 0) return [];
  if (!(await runtime.state.claim(sessionId, turn.requestId, owner))) return [];
  const rows: EvalScoreRow[] = [];
  for (const scorer of scorers) {
    const result = await scorer.score({ turn, calls, outcomes, sessionEnded });
    if (result) rows.push(turnScoreRow(sessionId, turn, scorer, result, runtime.now()));
  }
  return rows;
}

function firstResults(results: readonly ToolResultSignal[]): Map<string, ToolResultSignal> {
  const byCall = new Map<string, ToolResultSignal>();
  for (const result of results) if (!byCall.has(result.callId)) byCall.set(result.callId, result);
  return byCall;
}

/**
 * Turn job: scores the turn's own calls at once, records the turn in session state, and — because
 * the results of the previous turn's calls arrive in this request's history — scores the turns
 * whose calls just got all their results. Idempotent: rows deduplicate in ClickHouse and
 * outcome-dependent scores are claimed once per request.
 */
export async function processTurnJob(data: unknown, runtime: EvaluatorRuntime, jobId: string): Promise<TurnJobResult> {
  assertTurnSignals(data);
  const signals = data;
  const now = runtime.now();
  const turn = storedTurnOf(signals);
  const calls = storedCallsOf(signals);
  const scoreRows: EvalScoreRow[] = [];
  for (const scorer of runtime.turnScorers) {
    if (scorer.needs !== 'turn') continue;
    const result = await scorer.score({ turn, calls, outcomes: new Map(), sessionEnded: false });
    if (result) scoreRows.push(turnScoreRow(signals.sessionId, turn, scorer, result, now));
  }
  const pendingOutcome = { status: 'pending', exitCode: null, resultRequestId: '' } as const;
  const toolRows = calls.map((call) => toolCallRow(signals.sessionId, call.callId, { turn, call }, { ts: turn.ts, ...call }, pendingOutcome, 0, now));
  if (signals.sessionId !== '') await joinSession({ runtime, signals, turn, calls, now, jobId, scoreRows, toolRows });
  runtime.sink.write(EVAL_SCORES_TABLE, scoreRows as unknown as Record<string, unknown>[]);
  runtime.sink.write(TOOL_CALLS_TABLE, toolRows);
  return { scores: scoreRows.length, toolCalls: toolRows.length };
}

/** One turn job of a session: what it reads and the rows it adds to. */
interface TurnInSession {
  runtime: EvaluatorRuntime;
  signals: TurnSignals;
  turn: StoredTurn;
  calls: StoredCall[];
  now: number;
  jobId: string;
  scoreRows: EvalScoreRow[];
  toolRows: Record<string, unknown>[];
}

/**
 * Records the turn and the fresh results it carries in session state, then adds the rows that became
 * complete: the fresh results' tool calls, the turns whose calls now all have results, and this turn
 * itself when a later turn ran first.
 */
async function joinSession(job: TurnInSession): Promise<void> {
  const { runtime, signals, turn, calls, now, toolRows } = job;
  const sessionId = signals.sessionId;
  const results = firstResults(signals.results);
  const resultIds = [...results.keys()];
  const known = await runtime.state.lookup(sessionId, resultIds);
  const fresh = resultIds.filter((id) => !known.outcomes.has(id));
  const newOutcomes = new Map<string, StoredOutcome>();
  for (const id of fresh) {
    const result = results.get(id) as ToolResultSignal;
    newOutcomes.set(id, { status: result.status, exitCode: result.exitCode, resultRequestId: signals.requestId });
  }
  await runtime.state.record(sessionId, turn, calls, newOutcomes);

  // Jobs of one session may run in any order on any worker. Each job writes first, then reads what
  // the others wrote: whichever of "the turn that made the calls" and "the turn that carried their
  // results" runs second sees both and scores (the claim makes it exactly once). No job waits.
  const ownIds = calls.map((call) => call.callId);
  const unattributed = fresh.filter((id) => !known.calls.has(id));
  const after = ownIds.length + unattributed.length > 0 ? await runtime.state.lookup(sessionId, [...ownIds, ...unattributed]) : undefined;
  const callOf = (id: string) => known.calls.get(id) ?? after?.calls.get(id);
  const allOutcomes = new Map<string, StoredOutcome>(known.outcomes);
  for (const [id, outcome] of after?.outcomes ?? []) allOutcomes.set(id, outcome);
  for (const [id, outcome] of newOutcomes) allOutcomes.set(id, outcome);

  const makerIds = [...new Set(fresh.map((id) => callOf(id)?.requestId).filter((id): id is string => id !== undefined && id !== signals.requestId))];
  const makers = makerIds.length > 0 ? await runtime.state.turns(sessionId, makerIds) : new Map<string, StoredTurn>();
  for (const id of fresh) {
    const call = callOf(id);
    const maker = call ? makers.get(call.requestId) : undefined;
    const result = results.get(id) as ToolResultSignal;
    // Without its maker the row is stage 1, so the maker's complete row (stage 2) replaces it.
    toolRows.push(
      toolCallRow(sessionId, id, maker && call ? { turn: maker, call } : undefined, { ts: turn.ts, ...result }, newOutcomes.get(id) as StoredOutcome, maker ? 2 : 1, now),
    );
  }
  await scoreCompletedMakers(job, makers, callOf, allOutcomes);
  // A later turn ran first and already recorded this turn's results.
  if (ownIds.length > 0 && ownIds.every((id) => after?.outcomes.has(id))) {
    for (const call of calls) toolRows.push(toolCallRow(sessionId, call.callId, { turn, call }, { ts: turn.ts, ...call }, after?.outcomes.get(call.callId) as StoredOutcome, 2, now));
    job.scoreRows.push(...(await scoreOutcomeScorers(runtime, sessionId, turn, calls, allOutcomes, false, job.jobId)));
  }
}

/** Scores each earlier turn whose calls now all have results (calls not read yet are looked up). */
async function scoreCompletedMakers(job: TurnInSession, makers: ReadonlyMap<string, StoredTurn>, callOf: (id: string) => StoredCall | undefined, allOutcomes: ReadonlyMap<string, StoredOutcome>): Promise<void> {
  const { runtime } = job;
  const sessionId = job.signals.sessionId;
  for (const maker of makers.values()) {
    if (!maker.callIds.every((id) => allOutcomes.has(id))) continue;
    let makerCalls = maker.callIds.map(callOf);
    if (makerCalls.some((call) => call === undefined)) {
      const lookup = await runtime.state.lookup(sessionId, maker.callIds);
      makerCalls = maker.callIds.map((id) => lookup.calls.get(id));
    }
    const present = makerCalls.filter((call): call is StoredCall => call !== undefined);
    job.scoreRows.push(...(await scoreOutcomeScorers(runtime, sessionId, maker, present, allOutcomes, false, job.jobId)));
  }
}
