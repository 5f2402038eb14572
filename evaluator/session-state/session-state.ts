import type { CommandCategory } from '../../shared/tool-signals/classify-command.ts';
import type { ToolOutcomeStatus } from '../../shared/tool-signals/classify-tool-output.ts';
import type { CallValidity } from '../../shared/tool-signals/validate-tool-call.ts';
import type { TurnDimensions } from '../../shared/tool-signals/extract-turn-signals.ts';
import type { HashStore } from './hash-store.ts';

/** A turn as session scoring needs it (no content). */
export interface StoredTurn {
  requestId: string;
  turnId: string;
  turnSeq: number;
  ts: string;
  handledAtMillis: number;
  statusCode: number;
  errorCode: string;
  finalAnswer: boolean;
  trailingFailedResults: number;
  callIds: string[];
  dims: TurnDimensions;
}

/** A tool call, remembered with the turn that made it. */
export interface StoredCall {
  callId: string;
  requestId: string;
  turnSeq: number;
  /** Position among the turn's calls. */
  index: number;
  name: string;
  kind: 'function' | 'custom';
  validity: CallValidity;
  reason: string;
  category: CommandCategory;
  runner: string;
  command: string;
}

/** The first result seen for a call. */
export interface StoredOutcome {
  status: ToolOutcomeStatus;
  exitCode: number | null;
  resultRequestId: string;
}

/** Everything recorded about one session. */
export interface SessionSnapshot {
  turns: StoredTurn[];
  calls: StoredCall[];
  outcomes: Map<string, StoredOutcome>;
  claims: Set<string>;
}

const TURN = 't:';
const CALL = 'c:';
const OUTCOME = 'o:';
const CLAIM = 'a:';

function parse<T>(text: string | null | undefined): T | undefined {
  if (text === null || text === undefined) return undefined;
  return JSON.parse(text) as T;
}

export function compareTurns(left: StoredTurn, right: StoredTurn): number {
  return left.turnSeq - right.turnSeq || left.handledAtMillis - right.handledAtMillis || left.ts.localeCompare(right.ts);
}

/**
 * Per-session evaluation state, written by turn jobs and read by the session job, in a store
 * every worker process shares (Redis in distributed mode). One hash per session:
 * `t:<request>` turn, `c:<call>` call, `o:<call>` first result,
 * `a:<request>` accuracy claim.
 */
export class SessionState {
  private readonly store: HashStore;
  private readonly ttlMillis: number;

  constructor(store: HashStore, ttlMillis: number) {
    this.store = store;
    this.ttlMillis = ttlMillis;
  }

  private key(sessionId: string): string {
    return `session:${sessionId}`;
  }

  /** Calls and first results already recorded for these call ids. */
  async lookup(sessionId: string, callIds: readonly string[]): Promise<{ calls: Map<string, StoredCall>; outcomes: Map<string, StoredOutcome> }> {
    const calls = new Map<string, StoredCall>();
    const outcomes = new Map<string, StoredOutcome>();
    if (callIds.length === 0) return { calls, outcomes };
    const values = await this.store.get(this.key(sessionId), [...callIds.map((id) => CALL + id), ...callIds.map((id) => OUTCOME + id)]);
    callIds.forEach((id, index) => {
      const call = parse<StoredCall>(values[index]);
      if (call) calls.set(id, call);
      const outcome = parse<StoredOutcome>(values[callIds.length + index]);
      if (outcome) outcomes.set(id, outcome);
    });
    return { calls, outcomes };
  }

  async turns(sessionId: string, requestIds: readonly string[]): Promise<Map<string, StoredTurn>> {
    const values = await this.store.get(this.key(sessionId), requestIds.map((id) => TURN + id));
    const turns = new Map<string, StoredTurn>();
    values.forEach((value) => {
      const turn = parse<StoredTurn>(value);
      if (turn) turns.set(turn.requestId, turn);
    });
    return turns;
  }

  /** Records a turn, its calls and newly seen results in one write. */
  async record(sessionId: string, turn: StoredTurn, calls: readonly StoredCall[], outcomes: ReadonlyMap<string, StoredOutcome>): Promise<void> {
    const fields: Record<string, string> = { [TURN + turn.requestId]: JSON.stringify(turn) };
    for (const call of calls) fields[CALL + call.callId] = JSON.stringify(call);
    for (const [callId, outcome] of outcomes) fields[OUTCOME + callId] = JSON.stringify(outcome);
    await this.store.set(this.key(sessionId), fields, this.ttlMillis);
  }

  async recordOutcomes(sessionId: string, outcomes: ReadonlyMap<string, StoredOutcome>): Promise<void> {
    const fields: Record<string, string> = {};
    for (const [callId, outcome] of outcomes) fields[OUTCOME + callId] = JSON.stringify(outcome);
    await this.store.set(this.key(sessionId), fields, this.ttlMillis);
  }

  /** Claims the right to write a one-time score (e.g. tool_use_accuracy of a request); true for the winner. */
  claim(sessionId: string, subject: string, owner: string): Promise<boolean> {
    return this.store.setIfAbsent(this.key(sessionId), CLAIM + subject, owner, this.ttlMillis);
  }

  async load(sessionId: string): Promise<SessionSnapshot> {
    const all = await this.store.getAll(this.key(sessionId));
    const snapshot: SessionSnapshot = { turns: [], calls: [], outcomes: new Map(), claims: new Set() };
    for (const [field, value] of Object.entries(all)) {
      if (field.startsWith(TURN)) snapshot.turns.push(JSON.parse(value) as StoredTurn);
      else if (field.startsWith(CALL)) snapshot.calls.push(JSON.parse(value) as StoredCall);
      else if (field.startsWith(OUTCOME)) snapshot.outcomes.set(field.slice(OUTCOME.length), JSON.parse(value) as StoredOutcome);
      else if (field.startsWith(CLAIM)) snapshot.claims.add(field.slice(CLAIM.length));
    }
    snapshot.turns.sort(compareTurns);
    const turnOrder = new Map(snapshot.turns.map((turn, position) => [turn.requestId, position]));
    snapshot.calls.sort((left, right) => (turnOrder.get(left.requestId) ?? 0) - (turnOrder.get(right.requestId) ?? 0) || left.index - right.index);
    return snapshot;
  }
}
