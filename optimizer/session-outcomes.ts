import type { SpanRow } from '../shared/telemetry/turn-record.ts';
import type { EvalScoreRow } from '../shared/telemetry/eval-score-row.ts';
import type { QualityWeights } from '../shared/policy/optimizer-settings.ts';
import type { PreparedQuery } from './optimizer-queries.ts';
import { clickhouseTime, SESSION_OUTCOME_AGGREGATES, sessionOutcomesCte } from './optimizer-queries.ts';

/**
 * Session-level quality (`task_completion`, `code_correctness`) for the optimizer and its proposals.
 *
 * A session's outcome belongs to the route that served most of its turns (ties: the later model name).
 * Mixed sessions are attributed, not excluded: a routing rule with a token threshold serves the first
 * turns of most sessions on one model and the rest on another, so excluding mixed sessions would drop
 * nearly all of them. Holdouts and exploration are drawn per session, so their sessions are pure.
 * Sessions are the unit: their outcomes are independent, so these variances need no clustering.
 */
export interface SessionOutcome {
  costCenter: string;
  requestedModel: string;
  /** The model that served most of the session's turns. */
  servedModel: string;
  sessions: number;
  completion: OutcomeSums;
  correctness: OutcomeSums;
}

export interface OutcomeSums {
  /** Sessions with this score. */
  n: number;
  sum: number;
  squares: number;
}

/** One session-level component of a candidate's quality regression. */
export interface SessionComponent {
  weight: number;
  requested: { sessions: number; mean: number };
  target: { sessions: number; mean: number };
  /** requested − target mean, and its variance. */
  gap: number;
  variance: number;
}

/** How each component of quality enters a candidate's regression (the proposal shows all three). */
export interface QualityComponents {
  toolUseAccuracy: { weight: number; regression: number; standardDeviation: number };
  taskCompletion: SessionComponent | null;
  codeCorrectness: SessionComponent | null;
  /** Why a component with weight is not in the estimate (no session scores at all yet). */
  notes: string[];
}

/** Aggregates of session outcomes per (cost center, requested model, majority served model). */
export function sessionOutcomesQuery(input: { database: string; costCenters: readonly string[]; since: Date; until: Date }): PreparedQuery {
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(input.database)) throw new Error(`invalid database name "${input.database}"`);
  const db = input.database;
  return {
    query: `
WITH
routes AS (
  SELECT cost_center, session_id, argMax(tuple(requested_model, served_model), tuple(turns, served_model)) AS route
  FROM (
    SELECT cost_center, session_id, requested_model, served_model, count() AS turns
    FROM ${db}.spans
    WHERE has({cost_centers:Array(String)}, cost_center) AND ts >= {since:DateTime64(3)} AND ts < {until:DateTime64(3)}
      AND status_code < 400 AND requested_model != '' AND served_model != '' AND session_id != ''
    GROUP BY cost_center, session_id, requested_model, served_model
  )
  GROUP BY cost_center, session_id
),
${sessionOutcomesCte(db, 'since')}
SELECT r.cost_center AS cost_center, tupleElement(r.route, 1) AS requested_model, tupleElement(r.route, 2) AS served_model,
  count() AS sessions,
  ${SESSION_OUTCOME_AGGREGATES}
FROM routes AS r
LEFT JOIN outcomes AS o ON o.session_id = r.session_id
GROUP BY cost_center, requested_model, served_model
ORDER BY cost_center, requested_model, served_model`,
    query_params: { cost_centers: [...input.costCenters], since: clickhouseTime(input.since), until: clickhouseTime(input.until) },
  };
}

/** Row of {@link sessionOutcomesQuery} → {@link SessionOutcome} (sums rounded so parallel float sums give identical results). */
export function sessionOutcomeOf(row: Record<string, string | number>): SessionOutcome {
  const stable = (value: string | number | undefined) => Math.round(Number(value ?? 0) * 1e9) / 1e9;
  return {
    costCenter: String(row.cost_center),
    requestedModel: String(row.requested_model),
    servedModel: String(row.served_model),
    sessions: Number(row.sessions),
    completion: { n: Number(row.completion_n), sum: stable(row.completion_sum), squares: stable(row.completion_squares) },
    correctness: { n: Number(row.correctness_n), sum: stable(row.correctness_sum), squares: stable(row.correctness_squares) },
  };
}

/** In-memory twin of {@link sessionOutcomesQuery}: feed turns and session scores in any order, then read. */
export class SessionOutcomeAccumulator {
  readonly #routes = new Map<string, { costCenter: string; turns: Map<string, number> }>();
  readonly #scores = new Map<string, { completion?: number[]; correctness?: number[] }>();

  addTurn(span: Pick<SpanRow, 'session_id' | 'cost_center' | 'requested_model' | 'served_model' | 'status_code'>): void {
    if (span.status_code >= 400 || span.requested_model === '' || span.served_model === '' || span.session_id === '') return;
    const key = `${span.cost_center}\u0000${span.session_id}`;
    let route = this.#routes.get(key);
    if (!route) this.#routes.set(key, (route = { costCenter: span.cost_center, turns: new Map() }));
    const pair = `${span.requested_model}\u0000${span.served_model}`;
    route.turns.set(pair, (route.turns.get(pair) ?? 0) + 1);
  }

  addScore(score: Pick<EvalScoreRow, 'session_id' | 'level' | 'scorer' | 'value'>): void {
    if (score.level !== 'session' || (score.scorer !== 'task_completion' && score.scorer !== 'code_correctness')) return;
    const entry = this.#scores.get(score.session_id) ?? {};
    const field = score.scorer === 'task_completion' ? 'completion' : 'correctness';
    (entry[field] ??= []).push(score.value);
    this.#scores.set(score.session_id, entry);
  }

  outcomes(): SessionOutcome[] {
    const rows = new Map<string, SessionOutcome>();
    for (const [key, route] of this.#routes) {
      const sessionId = key.slice(key.indexOf('\u0000') + 1);
      // Majority route; ties go to the later (requested, served) by turns then served model, like the SQL.
      let best: [string, number] | undefined;
      for (const entry of route.turns) if (!best || entry[1] > best[1] || (entry[1] === best[1] && entry[0].split('\u0000')[1]! > best[0].split('\u0000')[1]!)) best = entry;
      const [requestedModel, servedModel] = (best as [string, number])[0].split('\u0000') as [string, string];
      const rowKey = `${route.costCenter}\u0000${requestedModel}\u0000${servedModel}`;
      let row = rows.get(rowKey);
      if (!row) rows.set(rowKey, (row = { costCenter: route.costCenter, requestedModel, servedModel, sessions: 0, completion: { n: 0, sum: 0, squares: 0 }, correctness: { n: 0, sum: 0, squares: 0 } }));
      row.sessions += 1;
      const scores = this.#scores.get(sessionId);
      for (const [field, values] of [['completion', scores?.completion], ['correctness', scores?.correctness]] as const) {
        if (!values || values.length === 0) continue;
        const mean = values.reduce((total, value) => total + value, 0) / values.length;
        row[field].n += 1;
        row[field].sum += mean;
        row[field].squares += mean * mean;
      }
    }
    return [...rows.values()].sort((a, b) => compare(a.costCenter, b.costCenter) || compare(a.requestedModel, b.requestedModel) || compare(a.servedModel, b.servedModel));
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Below this many scored sessions on a side, a component's gap takes the wide prior instead of its own variance. */
const MIN_COMPONENT_SESSIONS = 30;
/** Prior standard deviation of a session-outcome gap nobody has measured (as for unseen turn strata). */
const UNKNOWN_SESSION_GAP_SD = 0.15;

/**
 * Session-level components of moving `requestedModel` sessions to `targetModel`, pooled over every cost
 * center (session outcomes are few; like thin turn strata they borrow strength). A component whose
 * score exists nowhere yet is left out (and noted); one measured on the requested side only gets a
 * wide prior, so a model whose sessions were never scored cannot look safe.
 */
export function sessionComponents(outcomes: readonly SessionOutcome[], requestedModel: string, targetModel: string, weights: QualityWeights): Pick<QualityComponents, 'taskCompletion' | 'codeCorrectness' | 'notes'> {
  const notes: string[] = [];
  const side = (served: string, field: 'completion' | 'correctness'): OutcomeSums => {
    const sums = { n: 0, sum: 0, squares: 0 };
    for (const row of outcomes) {
      if (row.requestedModel !== requestedModel || row.servedModel !== served) continue;
      sums.n += row[field].n;
      sums.sum += row[field].sum;
      sums.squares += row[field].squares;
    }
    return sums;
  };
  const component = (field: 'completion' | 'correctness', weight: number, name: string): SessionComponent | null => {
    if (weight <= 0) return null;
    const requested = side(requestedModel, field);
    const target = side(targetModel, field);
    if (requested.n === 0 && target.n === 0) {
      notes.push(`${name}: no session scores yet, left out of the estimate`);
      return null;
    }
    const mean = (sums: OutcomeSums) => (sums.n > 0 ? sums.sum / sums.n : 0);
    const variance = (sums: OutcomeSums) => (sums.n > 1 ? Math.max(1e-4, (sums.squares - sums.n * mean(sums) ** 2) / (sums.n - 1)) / sums.n : Number.POSITIVE_INFINITY);
    const thin = requested.n < MIN_COMPONENT_SESSIONS || target.n < MIN_COMPONENT_SESSIONS;
    const gap = requested.n > 0 && target.n > 0 ? mean(requested) - mean(target) : 0;
    const measured = variance(requested) + variance(target);
    return {
      weight,
      requested: { sessions: requested.n, mean: mean(requested) },
      target: { sessions: target.n, mean: mean(target) },
      gap,
      variance: thin ? Math.max(Number.isFinite(measured) ? measured : 0, UNKNOWN_SESSION_GAP_SD ** 2) : measured,
    };
  };
  return { taskCompletion: component('completion', weights.taskCompletion, 'task_completion'), codeCorrectness: component('correctness', weights.codeCorrectness, 'code_correctness'), notes };
}
