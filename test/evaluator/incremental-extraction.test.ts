import { afterEach, describe, expect, it } from 'vitest';
import { readJsonBody } from '../../gateway/inbound/read-json-body.ts';
import { HistoryMarks } from '../../evaluator/history-marks.ts';
import { startEvaluator, type Evaluator } from '../../evaluator/start-evaluator.ts';
import { extractTurnSignals } from '../../shared/tool-signals/extract-turn-signals.ts';
import type { TurnRecord } from '../../shared/telemetry/turn-record.ts';
import { execOutput, loadCodexFixture, spanRow } from './helpers/codex-sessions.ts';
import { RecordingSink, waitFor } from './helpers/recording-sink.ts';

const SESSION = 'incremental-session';

/** A Codex history of exec_command calls and ~1.5 KB outputs until the body passes `bytes`. */
function longHistory(bytes: number): Record<string, unknown>[] {
  const base = (loadCodexFixture(1).body.input as Record<string, unknown>[]).slice(0, 4);
  const history = [...base];
  const listing = Array.from({ length: 20 }, (_, line) => `src/module/file-${line}.ts:${line + 1}: export function handler${line}(input: string) { return input.trim(); }`).join('\n');
  for (let index = 0; JSON.stringify(history).length < bytes; index += 1) {
    history.push({ type: 'function_call', status: 'completed', name: 'exec_command', arguments: JSON.stringify({ cmd: `rg -n handler src/module-${index}` }), call_id: `call_${index}` });
    history.push({ type: 'function_call_output', call_id: `call_${index}`, output: execOutput(0, listing) });
  }
  return history;
}

/**
 * The record the gateway hands over: the body read from the client's bytes as the gateway reads it,
 * its history behind a proxy that counts which items were read (each read parses one lazy item).
 */
function recordOf(input: Record<string, unknown>[], seq: number, read: Set<number>): TurnRecord {
  const fixture = loadCodexFixture(1).body;
  const body = readJsonBody(Buffer.from(JSON.stringify({ ...fixture, input })), 256);
  const lazy = body.input as unknown[];
  body.input = new Proxy(lazy, {
    get(target, property, receiver) {
      if (typeof property === 'string' && /^\d+$/.test(property)) read.add(Number(property));
      return Reflect.get(target, property, receiver);
    },
  });
  const span = spanRow({ request_id: `${SESSION}-req-${seq}`, session_id: SESSION, turn_seq: seq, ts: new Date(Date.parse('2026-11-28T10:00:00Z') + seq * 1000).toISOString() });
  return { span, body, inbound: 'openai-responses', toolCalls: [{ callId: `call_new_${seq}`, name: 'exec_command', kind: 'function', input: '{"cmd":"npm test"}' }] };
}

/** The turn after `history`: the model's call and its (failed) output appended, as Codex resends it. */
function nextTurn(history: Record<string, unknown>[], id: string, exitCode: number): Record<string, unknown>[] {
  return [
    ...history,
    { type: 'function_call', status: 'completed', name: 'exec_command', arguments: JSON.stringify({ cmd: 'npm test' }), call_id: id },
    { type: 'function_call_output', call_id: id, output: execOutput(exitCode, 'Tests: 1 failed') },
  ];
}

describe('evaluator extraction reads only what a turn adds', () => {
  let evaluator: Evaluator | undefined;
  afterEach(async () => {
    await evaluator?.close();
    evaluator = undefined;
  });

  it('a 200 KB history: the next turn reads a handful of items, not the ~170 resent ones', async () => {
    const sink = new RecordingSink();
    evaluator = await startEvaluator({ sink, sessionIdleSeconds: 60 });
    const history = longHistory(200_000);
    const firstRead = new Set<number>();
    evaluator.handleTurn(recordOf(history, 1, firstRead));
    await evaluator.flushEnqueues();
    // The first turn this process sees of a session is read whole.
    expect(firstRead.size).toBe(history.length);
    expect(history.length).toBeGreaterThan(150);

    const second = nextTurn(history, 'call_new_1', 1);
    const secondRead = new Set<number>();
    evaluator.handleTurn(recordOf(second, 2, secondRead));
    await evaluator.flushEnqueues();
    // The item at the mark (to check it is the same history) and the two new ones; the retry-cap
    // count reads backwards from the end and stops at the first success.
    expect([...secondRead].sort((a, b) => a - b)).toEqual([history.length - 1, history.length, history.length + 1]);

    // The new result still reaches the turn that made the call: its tool_calls row gets the outcome.
    await waitFor(() => sink.rows.some((entry) => entry.table === 'tool_calls' && entry.row.call_id === 'call_new_1' && entry.row.outcome === 'failure' && entry.row.stage === 2), 10_000, 'the outcome of call_new_1');
  });

  it('reads the whole history again when the item at the mark changed, or the history got shorter', async () => {
    evaluator = await startEvaluator({ sink: new RecordingSink(), sessionIdleSeconds: 60 });
    const history = longHistory(20_000);
    evaluator.handleTurn(recordOf(history, 1, new Set()));
    await evaluator.flushEnqueues();

    const edited = nextTurn(history.map((item, index) => (index === history.length - 1 ? { ...item, output: execOutput(0, 'compacted') } : item)), 'call_new_2', 0);
    const editedRead = new Set<number>();
    evaluator.handleTurn(recordOf(edited, 2, editedRead));
    await evaluator.flushEnqueues();
    expect(editedRead.size).toBe(edited.length);

    const shorter = history.slice(0, 6);
    const shorterRead = new Set<number>();
    evaluator.handleTurn(recordOf(shorter, 3, shorterRead));
    await evaluator.flushEnqueues();
    expect(shorterRead.size).toBe(shorter.length);
  });
});

describe('extractTurnSignals from an item on', () => {
  it('gives the tail results the full extraction gives, naming a result whose call came before the tail', () => {
    const history = longHistory(20_000);
    // A command that was still running when its call was resent: its output arrives a turn later.
    const call = { type: 'function_call', status: 'completed', name: 'exec_command', arguments: JSON.stringify({ cmd: 'cargo test' }), call_id: 'call_late' };
    const before = [...history, call];
    const after = [...before, { type: 'function_call_output', call_id: 'call_late', output: execOutput(101, 'test failed') }];
    const record = recordOf(after, 2, new Set());
    const full = extractTurnSignals(record, 0);
    const tail = extractTurnSignals(record, 0, before.length);
    expect(tail.results).toEqual([{ callId: 'call_late', name: 'exec_command', status: 'failure', exitCode: 101, category: 'test', runner: 'cargo-test', command: '' }]);
    expect(full.results.at(-1)).toEqual(tail.results[0]);
    expect({ ...tail, results: [] }).toEqual({ ...full, results: [] });
  });

  it('HistoryMarks forgets the least recently used session beyond its capacity', () => {
    const marks = new HistoryMarks(2);
    const history = longHistory(5_000);
    const record = (session: string) => ({ ...recordOf(history, 1, new Set()), span: spanRow({ session_id: session }) });
    for (const session of ['a', 'b', 'c']) marks.remember(marks.resume(record(session)).mark!);
    expect(marks.size).toBe(2);
    expect(marks.resume(record('a')).fromItem).toBe(0);
    expect(marks.resume(record('c')).fromItem).toBe(history.length);
  });
});
