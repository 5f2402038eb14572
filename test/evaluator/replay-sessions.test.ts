import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ClickHouseClient } from '@clickhouse/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClickHouse } from '../../shared/clickhouse/create-clickhouse.ts';
import { migrate } from '../../shared/clickhouse/migrate.ts';
import { BatchWriter } from '../../shared/storage/batch-writer.ts';
import { DiskSpool } from '../../shared/storage/disk-spool.ts';
import type { TurnRecord } from '../../shared/telemetry/turn-record.ts';
import { startEvaluator, type Evaluator } from '../../evaluator/start-evaluator.ts';
import { buildSession, execCall, execOutput, fixtureSession, scenarioSessions } from './helpers/codex-sessions.ts';

const database = 'gatehouse_eval_replay';
let dataDir: string;
let client: ClickHouseClient;
let writer: BatchWriter;
let evaluator: Evaluator;

interface ScoreRow {
  session_id: string;
  request_id: string;
  level: string;
  scorer: string;
  value: number;
  reasons: string[];
  served_model: string;
  requested_model: string;
  cost_center: string;
  input_token_bucket: number;
}

async function query<T>(sql: string): Promise<T[]> {
  const result = await client.query({ query: sql, format: 'JSONEachRow' });
  return result.json<T>();
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

/** Replays turns like the gateway: the span goes to ClickHouse (collector), the record to the evaluator. */
async function replay(records: TurnRecord[], spacingMillis: number): Promise<void> {
  for (const record of records) {
    writer.write('spans', [{ ...record.span, ts: record.span.ts.replace('T', ' ').replace('Z', '') }]);
    evaluator.handleTurn(record);
    if (spacingMillis > 0) await sleep(spacingMillis);
  }
}

async function waitForSessionScores(sessionIds: string[], timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  const list = sessionIds.map((id) => `'${id}'`).join(',');
  while (Date.now() < deadline) {
    await writer.flush();
    const rows = await query<{ sessions: string }>(
      `SELECT uniqExact(session_id) AS sessions FROM ${database}.eval_scores FINAL WHERE level = 'session' AND scorer = 'task_completion' AND session_id IN (${list})`,
    );
    if (Number(rows[0]?.sessions) === sessionIds.length && (await evaluator.refreshMetrics()).depth === 0) return;
    await sleep(100);
  }
  throw new Error(`session scores did not arrive for ${sessionIds.join(', ')}`);
}

async function scoresOf(sessionId: string): Promise<ScoreRow[]> {
  return query<ScoreRow>(
    `SELECT session_id, request_id, level, scorer, value, reasons, served_model, requested_model, cost_center, input_token_bucket FROM ${database}.eval_scores FINAL WHERE session_id = '${sessionId}' ORDER BY level DESC, request_id, scorer`,
  );
}

function pick(rows: ScoreRow[], scorer: string, requestId = ''): ScoreRow {
  const row = rows.find((candidate) => candidate.scorer === scorer && candidate.request_id === requestId);
  if (!row) throw new Error(`no ${scorer} score for "${requestId}" in ${JSON.stringify(rows.map((r) => [r.scorer, r.request_id]))}`);
  return row;
}

const scenarios = scenarioSessions('replay');

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-evaluator-replay-'));
  client = await createClickHouse({ url: 'embedded', database, dataDir });
  await migrate(client, database);
  writer = new BatchWriter({ client, database, spool: new DiskSpool(join(dataDir, 'spool'), 64 * 1024 * 1024), flushIntervalMillis: 100 });
  evaluator = await startEvaluator({ sink: writer, sessionIdleSeconds: 0.3, concurrency: 4 });
  const abandoned = buildSession('replay-abandoned', [
    { kind: 'calls', calls: [execCall('a1', 'go test ./...', execOutput(0, 'ok'))] },
    { kind: 'calls', calls: [execCall('a2', 'go build ./...')] },
  ]);
  await Promise.all([
    replay(fixtureSession('replay-fixture'), 30),
    replay(scenarios.clean as TurnRecord[], 30),
    replay(scenarios.failingTests as TurnRecord[], 30),
    replay(scenarios.retryCap as TurnRecord[], 30),
    replay(scenarios.denied as TurnRecord[], 30),
    replay(scenarios.malformed as TurnRecord[], 30),
    replay(abandoned, 30),
    // All turns at once: turn jobs run out of order on 4 concurrent slots and must wait for each other.
    replay(scenarioSessions('burst').clean as TurnRecord[], 0),
  ]);
  await waitForSessionScores(['replay-fixture', 'replay-clean', 'replay-failing', 'replay-loop', 'replay-denied', 'replay-malformed', 'replay-abandoned', 'burst-clean']);
}, 60_000);

afterAll(async () => {
  await evaluator?.close();
  await writer?.shutdown();
  await client?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('replayed Codex sessions, embedded mode (in-process queue, chDB)', () => {
  it('the real fixture session: valid, successful calls, patch applied but unverified, final answer', async () => {
    const rows = await scoresOf('replay-fixture');
    for (const request of ['replay-fixture-req-1', 'replay-fixture-req-2']) {
      expect(pick(rows, 'tool_call_validity', request).value).toBe(1);
      expect(pick(rows, 'tool_use_accuracy', request)).toMatchObject({ value: 1, reasons: ['1 of 1 tool calls valid and successful'] });
    }
    expect(rows.filter((row) => row.request_id === 'replay-fixture-req-3')).toEqual([]);
    expect(pick(rows, 'code_correctness')).toMatchObject({ value: 0.75, reasons: ['1 of 1 patches applied', 'no test or build run after the last patch'] });
    expect(pick(rows, 'task_completion').value).toBe(1);
    expect(pick(rows, 'task_completion').reasons[0]).toBe('ended in a final answer');
    expect(pick(rows, 'task_completion')).toMatchObject({ served_model: 'gpt-5.5', cost_center: 'platform', input_token_bucket: 8000 });
  });

  it('clean success: patch, passing tests, answer → everything 1', async () => {
    for (const session of ['replay-clean', 'burst-clean']) {
      const rows = await scoresOf(session);
      expect(rows.map((row) => [row.scorer, row.request_id.replace(/^\w+-/, ''), row.value])).toEqual([
        ['tool_call_validity', 'clean-req-1', 1],
        ['tool_use_accuracy', 'clean-req-1', 1],
        ['tool_call_validity', 'clean-req-2', 1],
        ['tool_use_accuracy', 'clean-req-2', 1],
        ['code_correctness', '', 1],
        ['task_completion', '', 1],
      ]);
      expect(pick(rows, 'code_correctness').reasons).toContain('last test/build after the last patch (npm-test) passed');
    }
  });

  it('tests keep failing: failed runs score 0 accuracy, code correctness 0.5, completion 0.6', async () => {
    const rows = await scoresOf('replay-failing');
    expect([1, 2, 3, 4].map((turn) => pick(rows, 'tool_use_accuracy', `replay-failing-req-${turn}`).value)).toEqual([1, 0, 1, 0]);
    expect(pick(rows, 'tool_use_accuracy', 'replay-failing-req-2').reasons[1]).toBe('exec_command(pytest)#f2: failure (exit code 1)');
    expect(pick(rows, 'code_correctness')).toMatchObject({
      value: 0.5,
      reasons: ['2 of 2 patches applied', 'last test/build after the last patch (pytest) failed with exit code 1'],
    });
    expect(pick(rows, 'task_completion')).toMatchObject({ value: 0.6 });
    expect(pick(rows, 'task_completion').reasons[0]).toBe('final answer right after 1 failed tool call');
  });

  it('a tool loop stopped by the retry cap', async () => {
    const rows = await scoresOf('replay-loop');
    expect([1, 2, 3, 4].map((turn) => pick(rows, 'tool_use_accuracy', `replay-loop-req-${turn}`).value)).toEqual([0, 0, 0, 0]);
    expect([1, 2, 3, 4].map((turn) => pick(rows, 'tool_call_validity', `replay-loop-req-${turn}`).value)).toEqual([1, 1, 1, 1]);
    expect(pick(rows, 'task_completion')).toMatchObject({ value: 0.1 });
    expect(pick(rows, 'task_completion').reasons[0]).toBe('stopped by the retry cap after 4 consecutive failed tool calls');
    expect(pick(rows, 'code_correctness')).toMatchObject({ value: 0, reasons: ['no patches', 'last test/build (pnpm-test) failed with exit code 1'] });
  });

  it('a denied session scores 0 with the denial as reason, and nothing else', async () => {
    const rows = await scoresOf('replay-denied');
    expect(rows.map((row) => row.scorer)).toEqual(['task_completion']);
    expect(rows[0]).toMatchObject({ value: 0, served_model: '', requested_model: 'gpt-5.5-pro' });
    expect(rows[0]?.reasons).toEqual(['denied by the gateway: model_not_allowed', '6 turns, 0 served, 0 tool calls']);
  });

  it('malformed tool arguments: each invalid call named with why', async () => {
    const rows = await scoresOf('replay-malformed');
    const validity = pick(rows, 'tool_call_validity', 'replay-malformed-req-1');
    expect(validity.value).toBe(0);
    expect(validity.reasons[0]).toBe('0 of 3 tool calls valid');
    expect(validity.reasons[1]).toMatch(/^exec_command#m1: invalid_json: /);
    expect(validity.reasons[2]).toMatch(/^exec_command#m2: schema: \(root\) must (have required property 'cmd'|NOT have additional properties)/);
    expect(validity.reasons[3]).toMatch(/^apply_patch\(apply_patch\)#m3: patch_grammar: line 3: unexpected line in an update hunk/);
    expect(pick(rows, 'tool_use_accuracy', 'replay-malformed-req-1').value).toBe(0);
    expect(pick(rows, 'code_correctness').value).toBe(0.25);
    expect(pick(rows, 'task_completion')).toMatchObject({ value: 0.3, reasons: ['final answer after 3 consecutive failed tool calls', '2 turns, 2 served, 3 tool calls'] });
  });

  it('an abandoned session: the last call never got a result', async () => {
    const rows = await scoresOf('replay-abandoned');
    expect(pick(rows, 'tool_use_accuracy', 'replay-abandoned-req-1').value).toBe(1);
    expect(pick(rows, 'tool_use_accuracy', 'replay-abandoned-req-2')).toMatchObject({
      value: 0,
      reasons: ['0 of 1 tool calls valid and successful', 'exec_command(go-build)#a2: no result before the session ended'],
    });
    expect(pick(rows, 'task_completion').reasons[0]).toBe('abandoned: the last turn asked for 1 tool call, 1 without a result');
    const calls = await query<{ call_id: string; outcome: string; runner: string; command: string; request_id: string }>(
      `SELECT call_id, outcome, runner, command, request_id FROM ${database}.tool_calls FINAL WHERE session_id = 'replay-abandoned' ORDER BY call_id`,
    );
    expect(calls).toEqual([
      { call_id: 'a1', outcome: 'success', runner: 'go-test', command: '', request_id: 'replay-abandoned-req-1' },
      { call_id: 'a2', outcome: 'missing', runner: 'go-build', command: '', request_id: 'replay-abandoned-req-2' },
    ]);
  });

  it('tool_calls holds one row per call despite the resent history', async () => {
    const raw = await query<{ rows: string }>(`SELECT count() AS rows FROM ${database}.tool_calls WHERE session_id = 'replay-loop'`);
    expect(Number(raw[0]?.rows)).toBeGreaterThanOrEqual(4);
    const calls = await query<{ call_id: string; outcome: string; exit_code: number; validity: string; served_model: string }>(
      `SELECT call_id, outcome, exit_code, validity, served_model FROM ${database}.tool_calls FINAL WHERE session_id = 'replay-loop' ORDER BY call_id`,
    );
    expect(calls).toEqual(['l1', 'l2', 'l3', 'l4'].map((call_id) => ({ call_id, outcome: 'failure', exit_code: 1, validity: 'valid', served_model: 'gpt-5.5' })));
  });

  it('re-scoring is idempotent: resent turns add no rows, a resumed session replaces its scores', async () => {
    const before = await query<{ scorer: string; rows: string }>(
      `SELECT scorer, count() AS rows FROM ${database}.eval_scores FINAL WHERE session_id = 'replay-clean' GROUP BY scorer ORDER BY scorer`,
    );
    await replay(scenarios.clean as TurnRecord[], 0);
    await sleep(800);
    await waitForSessionScores(['replay-clean']);
    const after = await query<{ scorer: string; rows: string }>(
      `SELECT scorer, count() AS rows FROM ${database}.eval_scores FINAL WHERE session_id = 'replay-clean' GROUP BY scorer ORDER BY scorer`,
    );
    expect(after).toEqual(before);
    expect(evaluator.metrics()).toMatchObject({ failures: 0, enqueueErrors: 0, extractErrors: 0 });
  });

  it('quality views put scores beside cost from spans', async () => {
    const byModel = await query<{ served_model: string; scorer: string; scores: string; avg_score: number; turns: string; cost_usd: number }>(
      `SELECT served_model, scorer, scores, avg_score, turns, cost_usd FROM ${database}.quality_by_model_daily WHERE scorer = 'task_completion' ORDER BY served_model`,
    );
    // The denied session was served by no model: its row sits under an empty served_model, at no cost.
    expect(byModel.map((row) => row.served_model)).toEqual(['', 'gpt-5.5']);
    expect(byModel[0]).toMatchObject({ avg_score: 0, cost_usd: 0 });
    expect(Number(byModel[1]?.scores)).toBe(7);
    expect(Number(byModel[1]?.turns)).toBeGreaterThan(10);
    expect(byModel[1]?.cost_usd).toBeGreaterThan(0);
    for (const view of ['quality_by_cost_center_daily', 'quality_by_rule', 'quality_by_policy_version', 'quality_by_bucket_hour']) {
      const rows = await query<{ avg_score: number; turns: string }>(`SELECT avg_score, turns FROM ${database}.${view} WHERE scorer = 'tool_use_accuracy'`);
      expect(rows.length, view).toBeGreaterThan(0);
      expect(rows.every((row) => Number(row.turns) > 0), view).toBe(true);
    }
  });
});
