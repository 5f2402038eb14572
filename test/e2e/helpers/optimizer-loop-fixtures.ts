import { randomUUID } from 'node:crypto';
import type { ClickHouseClient } from '@clickhouse/client';
import { request } from 'undici';
import { clockIn, ruleMatches } from '../../../gateway/policy/match-rule.ts';
import { optimizeSegments } from '../../../optimizer/optimize-segments.ts';
import type { OptimizerProposal } from '../../../optimizer/proposal.ts';
import { SegmentAccumulator } from '../../../optimizer/segment-aggregate.ts';
import { SIMULATED_COST_CENTERS, SIMULATED_MODELS, simulateTraffic, type EvalScoreRow } from '../../../optimizer/simulate.ts';
import { PolicySchema, type PolicyDocument } from '../../../shared/policy/policy-schema.ts';
import type { SpanRow } from '../../../shared/telemetry/turn-record.ts';
import type { ScriptedTurn } from '../../helpers/fake-upstreams/codex-responses-upstream.ts';
import { codexHeaders } from './e2e-client.ts';

/**
 * Shared pieces of the optimizer-loop end-to-end tests (issue 8): a simulated organisation's
 * history inserted into the running gateway's ClickHouse, a policy for it, a Codex-shaped fake
 * upstream whose cheaper model breaks the tests, and a client that plays Codex sessions.
 */

export const EXPENSIVE = SIMULATED_MODELS.expensive;
export const CHEAPER = SIMULATED_MODELS.cheaper;

const PRICES = {
  [SIMULATED_MODELS.expensive]: { input: 1.25, cached_input: 0.125, output: 10 },
  [SIMULATED_MODELS.cheaper]: { input: 0.25, cached_input: 0.025, output: 2 },
  [SIMULATED_MODELS.cheapest]: { input: 0.05, cached_input: 0.005, output: 0.4 },
};

/**
 * A fixed-offset zone in which it is early afternoon right now. Routing rules match on the
 * cost center's local clock and the optimizer proposes daytime windows (the simulated cheaper
 * model is worse at night), so the organisation is placed where the test's "now" is daytime.
 */
export function middayZone(nowMillis = Date.now()): { timezone: string; offsetHours: number } {
  const offsetHours = Math.max(-12, Math.min(14, 13 - new Date(nowMillis).getUTCHours()));
  return { timezone: offsetHours === 0 ? 'UTC' : `Etc/GMT${offsetHours > 0 ? '-' : '+'}${Math.abs(offsetHours)}`, offsetHours };
}

export interface LoopPolicyOptions {
  timezone: string;
  keys: { key: string; developer: string; cost_center: string }[];
  approvers: { id: string; public_key: string; scopes: string[] }[];
  webhookUrl?: string;
  /** Cost centers in dry run. */
  dryRunCostCenters?: string[];
  /** @defaultValue 0.02 (see optimizer/README.md "Defaults") */
  qualityRegressionLimit?: number;
  /** `optimizer.holdout_share`. @defaultValue 0 */
  holdoutShare?: number;
}

/** The simulated organisation's policy (no exploration: the history already has it, and live draws would make served models random). */
export function loopPolicy(options: LoopPolicyOptions): Record<string, unknown> {
  return {
    models: Object.fromEntries(Object.entries(PRICES).map(([name, price]) => [name, { provider: 'openai', upstream: name, price }])),
    cost_centers: Object.fromEntries(
      SIMULATED_COST_CENTERS.map((name) => [
        name,
        {
          allowed_models: Object.keys(PRICES),
          allowed_providers: ['openai'],
          quality_regression_limit: options.qualityRegressionLimit ?? 0.02,
          timezone: options.timezone,
          ...(options.dryRunCostCenters?.includes(name) ? { dry_run: true } : {}),
        },
      ]),
    ),
    keys: options.keys,
    approvers: options.approvers,
    ...(options.webhookUrl ? { alerts: { webhook_url: options.webhookUrl } } : {}),
    // These end-to-end runs watch the guard against the historical baseline (200 scored turns per arm in
    // a short test); the concurrent holdout is covered by test/optimizer/guard-holdout.test.ts.
    // Turn-level quality: the simulated history's session outcome is a coin flip on the last turn, and the
    // expected proposals come from the turn-level twin (session-level quality: test/optimizer/session-quality.test.ts).
    optimizer: { holdout_share: options.holdoutShare ?? 0, quality_weights: { tool_use_accuracy: 1, task_completion: 0, code_correctness: 0 } },
  };
}

export interface HistoryOptions {
  seed: number;
  developers: number;
  days: number;
  /** The zone's UTC offset: simulated clock hours become local hours of the cost centers. */
  offsetHours: number;
  nowMillis: number;
}

function shiftTs(ts: string, shiftMillis: number): string {
  return new Date(Date.parse(`${ts.replace(' ', 'T')}Z`) + shiftMillis).toISOString().replace('T', ' ').replace('Z', '');
}

/**
 * Runs the simulator over the `days` local calendar days before today and hands over each row,
 * with timestamps moved so that the simulator's clock (UTC) reads as local time in the zone:
 * then hours, day types and calendar days seen through the zone are exactly the simulated ones.
 */
export function simulateHistory(options: HistoryOptions, sink: { span(span: SpanRow, scores: EvalScoreRow[]): void; sessionScore(score: EvalScoreRow): void }): number {
  const offsetMillis = options.offsetHours * 3_600_000;
  const localMidnight = Math.floor((options.nowMillis + offsetMillis) / 86_400_000) * 86_400_000;
  const startIso = new Date(localMidnight - options.days * 86_400_000).toISOString();
  const summary = simulateTraffic(
    { seed: options.seed, developers: options.developers, days: options.days, startIso },
    {
      turn(span, scores) {
        span.ts = shiftTs(span.ts, -offsetMillis);
        for (const score of scores) {
          score.ts = shiftTs(score.ts, -offsetMillis);
          score.scored_at = score.ts;
        }
        sink.span(span, scores);
      },
      sessionScore(score) {
        score.ts = shiftTs(score.ts, -offsetMillis);
        score.scored_at = score.ts;
        sink.sessionScore(score);
      },
    },
  );
  return summary.turns;
}

function turnQuality(scores: readonly EvalScoreRow[]): number | undefined {
  return scores.length === 0 ? undefined : scores.reduce((total, score) => total + score.value, 0) / scores.length;
}

/** The optimizer's pure core over a simulated history (the in-memory twin of the gateway's SQL path). */
export function proposalInMemory(options: HistoryOptions, policy: PolicyDocument, costCenter: string, seed: number): OptimizerProposal | undefined {
  const accumulator = new SegmentAccumulator(Object.fromEntries(Object.entries(policy.cost_centers).map(([name, center]) => [name, center.timezone])));
  simulateHistory(options, { span: (span, scores) => accumulator.add(span, turnQuality(scores)), sessionScore: () => undefined });
  const [result] = optimizeSegments(accumulator.aggregates(), policy, { observedDays: accumulator.observedDays(), seed, costCenter });
  return result?.status === 'proposal' ? result : undefined;
}

/**
 * Picks the first simulator seed whose best rule for `costCenter` routes a small `EXPENSIVE`
 * turn right now. The rule's hour window and weekday set come from the data; the gateway matches
 * them against the real clock, which a test cannot move.
 */
export function pickHistorySeed(base: Omit<HistoryOptions, 'seed'>, policyInput: Record<string, unknown>, costCenter: string, optimizerSeed: number): { seed: number; proposal: OptimizerProposal } {
  const policy = PolicySchema.parse(policyInput);
  const center = policy.cost_centers[costCenter];
  for (let seed = 1; seed <= 12; seed += 1) {
    const proposal = proposalInMemory({ ...base, seed }, policy, costCenter, optimizerSeed);
    if (!proposal || !center) continue;
    const facts = { requestedModel: EXPENSIVE, inputTokenEstimate: 500, clock: clockIn(center.timezone, new Date(base.nowMillis)), budgetStage: 'ok', tags: [] };
    // The regression the tests inject is the cheaper model's, on small turns asking for the expensive one.
    if (proposal.rule.route_to === CHEAPER && ruleMatches(proposal.rule, facts)) return { seed, proposal };
  }
  throw new Error(`no simulated history in 12 seeds gives ${costCenter} a rule that applies now`);
}

/** Inserts the history into the running gateway's ClickHouse, in batches. */
export async function insertHistory(clickhouse: ClickHouseClient, database: string, options: HistoryOptions): Promise<{ turns: number; scoreRows: number }> {
  let spans: SpanRow[] = [];
  let scores: EvalScoreRow[] = [];
  let scoreRows = 0;
  const pending: Promise<unknown>[] = [];
  // Each insert carries its own deduplication token, and the count is checked after: before c572b4a
  // a token the gateway's BatchWriter set stayed on chDB's one session, and token-less inserts into
  // `spans` right after it were silently dropped as duplicates (found by this test).
  const insert = (table: string, values: unknown[]) => clickhouse.insert({ table: `${database}.${table}`, values, format: 'JSONEachRow', clickhouse_settings: { insert_deduplication_token: `history-${randomUUID()}` } });
  const flush = () => {
    if (spans.length > 0) pending.push(insert('spans', spans));
    if (scores.length > 0) pending.push(insert('eval_scores', scores));
    scoreRows += scores.length;
    spans = [];
    scores = [];
  };
  const turns = simulateHistory(options, {
    span(span, turnScores) {
      spans.push(span);
      scores.push(...turnScores);
      if (spans.length >= 20_000) flush();
    },
    sessionScore: (score) => scores.push(score),
  });
  flush();
  await Promise.all(pending);
  const [row] = await (await clickhouse.query({ query: `SELECT count() AS n FROM ${database}.spans`, format: 'JSONEachRow' })).json<{ n: string }>();
  if (Number(row?.n) < turns) throw new Error(`only ${row?.n} of ${turns} simulated spans landed`);
  return { turns, scoreRows };
}

/** The exec_command tool exactly as Codex CLI 0.171.0 declares it (shared/fixtures/codex-cli). */
export const EXEC_COMMAND_TOOL = {
  type: 'function',
  name: 'exec_command',
  description: 'Runs a command in a PTY, returning output or a session ID for ongoing interaction.',
  strict: false,
  parameters: {
    type: 'object',
    properties: {
      cmd: { type: 'string', description: 'Shell command to execute.' },
      workdir: { type: 'string', description: 'Working directory for the command. Defaults to the turn cwd.' },
      yield_time_ms: { type: 'number', description: 'Wait before yielding output. Defaults to 10000 ms; effective range is 250-30000 ms.' },
    },
    required: ['cmd'],
    additionalProperties: false,
  },
};

/** What each model of the fake does: the expensive one runs the suite after a good fix, the cheaper one after a fix that breaks it. */
export const COMMANDS = {
  [EXPENSIVE]: 'npm test -- test/parser.test.ts',
  [CHEAPER]: 'npm test -- test/parser.test.ts --bail # after a wrong fix',
} as const;

/** Tool calls per session before the fake model gives its final answer (3 failures in a row is the default retry cap: a 4th would be refused with 429 retry_limit_exceeded). */
export const TOOL_TURNS_PER_SESSION = 3;

export const FAKE_USAGE = { input_tokens: 3_000, cached_tokens: 0, output_tokens: 400 };

/**
 * The fake upstream's answers: a tool call per turn until the session has
 * `TOOL_TURNS_PER_SESSION` results, then a final message. What it runs depends on the model asked for.
 */
export function codexFakeAnswer(body: Record<string, unknown>): ScriptedTurn {
  const input = Array.isArray(body.input) ? (body.input as { type?: string }[]) : [];
  const results = input.filter((item) => item.type === 'function_call_output').length;
  const model = String(body.model);
  if (results >= TOOL_TURNS_PER_SESSION) return { output: [{ type: 'message', text: model === CHEAPER ? 'I could not get the parser tests to pass.' : 'Fixed: the parser tests pass.' }], usage: FAKE_USAGE };
  const command = COMMANDS[model as keyof typeof COMMANDS] ?? 'ls';
  return { output: [{ type: 'function_call', name: 'exec_command', arguments: JSON.stringify({ cmd: command, workdir: '/home/dev/repo' }) }], usage: FAKE_USAGE };
}

/**
 * Stands in for Codex executing a call on the developer's machine: the suite passes after the
 * expensive model's fix and fails after the cheaper model's. Output in Codex 0.171.0's exec_command format.
 */
export function runToolLocally(argumentsText: string): string {
  const { cmd } = JSON.parse(argumentsText) as { cmd: string };
  if (cmd.includes('wrong fix')) return 'Chunk ID: 5b1e2c\nWall time: 1.2040 seconds\nProcess exited with code 1\nOriginal token count: 38\nOutput:\nFAIL test/parser.test.ts\n  ✕ parses nested lists (12 ms)\nTests: 1 failed, 11 passed, 12 total\n';
  return 'Chunk ID: 9a4f01\nWall time: 1.1003 seconds\nProcess exited with code 0\nOriginal token count: 21\nOutput:\nPASS test/parser.test.ts\nTests: 12 passed, 12 total\n';
}

export interface SessionTurn {
  requestId: string;
  status: number;
  servedModel: string;
  policyVersion: string;
}

interface StreamedCall {
  call_id: string;
  name: string;
  arguments: string;
}

function functionCallsOf(sse: string): StreamedCall[] {
  const calls: StreamedCall[] = [];
  for (const line of sse.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    const event = JSON.parse(line.slice(6)) as { type?: string; item?: { type?: string } & StreamedCall };
    if (event.type === 'response.output_item.done' && event.item?.type === 'function_call') calls.push({ call_id: event.item.call_id, name: event.item.name, arguments: event.item.arguments });
  }
  return calls;
}

/**
 * Plays one Codex session through the gateway: each request resends the conversation, with the
 * previous turn's function calls and their outputs (`function_call_output`), as Codex does.
 */
export async function playCodexSession(baseUrl: string, key: string, sessionId: string, model: string): Promise<SessionTurn[]> {
  const history: Record<string, unknown>[] = [{ type: 'message', role: 'user', content: [{ type: 'input_text', text: 'the parser tests fail on nested lists; fix it' }] }];
  const turns: SessionTurn[] = [];
  for (let turn = 0; turn <= TOOL_TURNS_PER_SESSION; turn += 1) {
    const response = await request(`${baseUrl}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, accept: 'text/event-stream', ...codexHeaders(sessionId, `${sessionId}-turn-${turn}`) },
      body: JSON.stringify({ model, stream: true, store: false, input: history, tools: [EXEC_COMMAND_TOOL], tool_choice: 'auto', parallel_tool_calls: false, prompt_cache_key: sessionId }),
    });
    const text = await response.body.text();
    turns.push({
      requestId: String(response.headers['x-gatehouse-request-id']),
      status: response.statusCode,
      servedModel: String(response.headers['x-gatehouse-served-model']),
      policyVersion: String(response.headers['x-gatehouse-policy-version']),
    });
    if (response.statusCode !== 200) throw new Error(`turn ${turn} of ${sessionId} failed (${response.statusCode}): ${text}`);
    const calls = functionCallsOf(text);
    if (calls.length === 0) break;
    for (const call of calls) {
      history.push({ type: 'function_call', name: call.name, arguments: call.arguments, call_id: call.call_id });
      history.push({ type: 'function_call_output', call_id: call.call_id, output: runToolLocally(call.arguments) });
    }
  }
  return turns;
}

/** Runs `count` sessions, `parallel` at a time. */
export async function playSessions(count: number, parallel: number, play: (index: number) => Promise<SessionTurn[]>): Promise<SessionTurn[]> {
  const all: SessionTurn[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const index = next;
        next += 1;
        all.push(...(await play(index)));
      }
    }),
  );
  return all;
}
