import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { BullmqJobQueue } from '../../shared/queue/bullmq-job-queue.ts';
import { EVALUATOR_QUEUE } from '../../shared/queue/queue-names.ts';
import type { TurnRecord } from '../../shared/telemetry/turn-record.ts';
import { RedisHashStore } from '../../evaluator/session-state/hash-store.ts';
import { BUILTIN_SCORERS } from '../../evaluator/scorers/index.ts';
import type { TurnScorer } from '../../evaluator/scorers/scorer.ts';
import { startEvaluator, type Evaluator, type StartEvaluatorOptions } from '../../evaluator/start-evaluator.ts';
import { buildSession, execCall, execOutput, fixtureSession, scenarioSessions } from './helpers/codex-sessions.ts';
import { RecordingSink, sleep, waitFor } from './helpers/recording-sink.ts';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const cleanups: (() => Promise<void>)[] = [];

afterEach(async () => {
  while (cleanups.length > 0) await (cleanups.pop() as () => Promise<void>)().catch(() => {});
});

/** A unique BullMQ prefix per test; its queue and state keys are deleted afterwards. */
function uniquePrefix(): string {
  const prefix = `gatehouse-test-${randomUUID().slice(0, 8)}`;
  cleanups.push(async () => {
    const queue = new BullmqJobQueue({ name: EVALUATOR_QUEUE, redisUrl: REDIS_URL, prefix });
    await queue.obliterate();
    await queue.close();
    const state = new RedisHashStore(REDIS_URL, `${prefix}:${EVALUATOR_QUEUE}:state:`);
    await state.clear();
    await state.close();
  });
  return prefix;
}

async function evaluatorFor(options: Omit<StartEvaluatorOptions, 'sink'> & { sink?: RecordingSink }): Promise<{ evaluator: Evaluator; sink: RecordingSink }> {
  const sink = options.sink ?? new RecordingSink();
  const evaluator = await startEvaluator({ ...options, sink });
  cleanups.push(() => evaluator.close());
  return { evaluator, sink };
}

function allSessions(prefix: string): TurnRecord[][] {
  const scenarios = scenarioSessions(prefix);
  return [fixtureSession(`${prefix}-fixture`), scenarios.clean, scenarios.failingTests, scenarios.retryCap, scenarios.denied, scenarios.malformed];
}

async function replayAll(evaluator: Evaluator, sessions: TurnRecord[][], spacingMillis: number): Promise<void> {
  await Promise.all(
    sessions.map(async (records) => {
      for (const record of records) {
        evaluator.handleTurn(record);
        await sleep(spacingMillis);
      }
    }),
  );
  await evaluator.flushEnqueues();
}

const sessionScored = (sink: RecordingSink, count: number) => () => sink.scores().filter((row) => row.scorer === 'task_completion').length >= count;

describe('BullMQ on real Redis', () => {
  it('embedded and distributed modes produce identical scores for the same traffic', async () => {
    // A session is scored once it has been idle this long; the replay's 20 ms gaps must stay far below it even when a
    // loaded machine stalls a process (0.3 s scored some sessions before their last turns).
    const embedded = await evaluatorFor({ sessionIdleSeconds: 2 });
    const distributed = await evaluatorFor({ sessionIdleSeconds: 2, redis: { url: REDIS_URL, prefix: uniquePrefix() } });
    const sessions = allSessions('same');
    await Promise.all([replayAll(embedded.evaluator, sessions, 20), replayAll(distributed.evaluator, sessions, 20)]);
    await waitFor(sessionScored(embedded.sink, sessions.length), 20_000, 'embedded session scores');
    await waitFor(sessionScored(distributed.sink, sessions.length), 20_000, 'distributed session scores');
    // Both queues drained and both sinks holding as many rows: a loaded machine may still be scoring turns.
    const drained = async () => (await embedded.evaluator.refreshMetrics()).depth === 0 && (await distributed.evaluator.refreshMetrics()).depth === 0 && embedded.sink.normalizedScores().length === distributed.sink.normalizedScores().length;
    await waitFor(drained, 20_000, 'both evaluators drained');
    const left = embedded.sink.normalizedScores();
    expect(left.length).toBeGreaterThan(30);
    expect(distributed.sink.normalizedScores()).toEqual(left);
    expect((await distributed.evaluator.refreshMetrics()).failures).toBe(0);
  });

  it('two workers never double-score', async () => {
    const prefix = uniquePrefix();
    const redis = { url: REDIS_URL, prefix };
    const producer = await evaluatorFor({ sessionIdleSeconds: 0.3, redis, runWorkers: false });
    const first = await evaluatorFor({ sessionIdleSeconds: 0.3, redis, concurrency: 8 });
    const second = await evaluatorFor({ sessionIdleSeconds: 0.3, redis, concurrency: 8 });
    const sessions = Array.from({ length: 20 }, (_, index) => scenarioSessions(`pair${index}`).failingTests);
    await replayAll(producer.evaluator, sessions, 5);
    // Resending every turn (a client retry) must not score anything twice either.
    await replayAll(producer.evaluator, sessions, 0);
    const both = () => [...first.sink.scores(), ...second.sink.scores()];
    await waitFor(() => both().filter((row) => row.scorer === 'task_completion').length >= sessions.length, 30_000, 'session scores');
    await sleep(500);
    const keys = both().map((row) => `${String(row.session_id)}|${String(row.request_id)}|${String(row.scorer)}`);
    // Per session: 4 validity, 4 accuracy, 1 code correctness, 1 task completion.
    expect(keys.length).toBe(sessions.length * 10);
    expect(new Set(keys).size).toBe(keys.length);
    expect(first.sink.scores().length).toBeGreaterThan(0);
    expect(second.sink.scores().length).toBeGreaterThan(0);
    const processed = first.evaluator.metrics().processed + second.evaluator.metrics().processed;
    expect(processed).toBe(sessions.length * 5 + sessions.length);
  });

  it('a worker killed mid-job (SIGKILL): the job is retried elsewhere and scored once', async () => {
    const prefix = uniquePrefix();
    const redis = { url: REDIS_URL, prefix };
    const child: ChildProcess = spawn(process.execPath, [fileURLToPath(new URL('./helpers/worker-child.ts', import.meta.url))], {
      env: { ...process.env, REDIS_URL, QUEUE_PREFIX: prefix },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.includes('READY'), 20_000, 'child worker');

    const producer = await evaluatorFor({ sessionIdleSeconds: 60, redis, runWorkers: false });
    const [record] = buildSession('killed', [{ kind: 'calls', calls: [execCall('k1', 'npm test', execOutput(0))] }]);
    producer.evaluator.handleTurn(record as TurnRecord);
    await producer.evaluator.flushEnqueues();
    await waitFor(() => output.includes('ACTIVE killed-req-1'), 10_000, 'the child to take the job');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(output).not.toContain('ROW ');

    const quickStall: TurnScorer = { name: 'stall', version: 1, appliesTo: 'turn', needs: 'turn', score: () => ({ value: 1, reasons: ['done'] }) };
    const survivor = await evaluatorFor({
      sessionIdleSeconds: 60,
      redis,
      scorers: [...BUILTIN_SCORERS, quickStall],
      lockDurationMillis: 1000,
      stalledIntervalMillis: 300,
    });
    await waitFor(() => survivor.sink.scores().some((row) => row.scorer === 'stall'), 15_000, 'the stalled job to be retried');
    await sleep(1500);
    const scores = survivor.sink.scores().map((row) => `${String(row.request_id)}|${String(row.scorer)}`);
    expect(scores.sort()).toEqual(['killed-req-1|stall', 'killed-req-1|tool_call_validity']);
    expect(survivor.evaluator.metrics().processed).toBe(1);
  });

  it('the session job fires once after the idle window, though every turn moved it', async () => {
    const { evaluator, sink } = await evaluatorFor({ sessionIdleSeconds: 0.3, redis: { url: REDIS_URL, prefix: uniquePrefix() } });
    const steps = Array.from({ length: 10 }, (_, index) => ({
      kind: 'calls' as const,
      calls: [execCall(`d${index}`, 'npm test', execOutput(index === 9 ? 0 : 1))],
    }));
    const records = buildSession('debounce', [...steps, { kind: 'answer', text: 'done' }]);
    let lastTurnAt = 0;
    for (const record of records) {
      evaluator.handleTurn(record);
      lastTurnAt = Date.now();
      await sleep(100);
    }
    await waitFor(sessionScored(sink, 1), 10_000, 'session score');
    await sleep(1000);
    const sessionRows = sink.rows.filter((entry) => entry.table === 'eval_scores' && entry.row.level === 'session');
    expect(sessionRows.map((entry) => entry.row.scorer).sort()).toEqual(['code_correctness', 'task_completion']);
    const completion = sessionRows.find((entry) => entry.row.scorer === 'task_completion');
    expect(completion?.row.reasons).toEqual(['ended in a final answer', '11 turns, 11 served, 10 tool calls']);
    expect((completion?.atMillis ?? 0) - lastTurnAt).toBeGreaterThanOrEqual(280);
  });
});

describe('in-process queue', () => {
  it('the session job fires once after the idle window, though every turn moved it', async () => {
    const { evaluator, sink } = await evaluatorFor({ sessionIdleSeconds: 0.3 });
    const records = buildSession('debounce-embedded', [
      ...Array.from({ length: 6 }, (_, index) => ({ kind: 'calls' as const, calls: [execCall(`e${index}`, 'ls', execOutput(0))] })),
      { kind: 'answer' as const, text: 'done' },
    ]);
    for (const record of records) {
      evaluator.handleTurn(record);
      await sleep(100);
    }
    await waitFor(sessionScored(sink, 1), 5_000, 'session score');
    await sleep(700);
    expect(sink.scores().filter((row) => row.level === 'session').map((row) => row.scorer)).toEqual(['task_completion']);
  });
});
