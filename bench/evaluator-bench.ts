/**
 * Evaluator bench: turns scored per second per worker, and the lag between a session's last turn and
 * its session score. Traffic is Codex-shaped (the real fixture's tools and system prompt, resent
 * history), built by the same scripted sessions the tests replay.
 *
 * Run: `node bench/evaluator-bench.ts [--redis redis://127.0.0.1:6379] [--sessions 400]`
 */
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { BullmqJobQueue } from '../shared/queue/bullmq-job-queue.ts';
import { EVALUATOR_QUEUE } from '../shared/queue/queue-names.ts';
import type { TurnRecord } from '../shared/telemetry/turn-record.ts';
import { extractTurnSignals } from '../shared/tool-signals/extract-turn-signals.ts';
import { RedisHashStore } from '../evaluator/session-state/hash-store.ts';
import type { ScoreSink } from '../evaluator/score-rows.ts';
import { startEvaluator, type Evaluator } from '../evaluator/start-evaluator.ts';
import { scenarioSessions } from '../test/evaluator/helpers/codex-sessions.ts';

export interface EvaluatorBenchOptions {
  /** Sessions of traffic (each 2–5 turns). @defaultValue 400 */
  sessions?: number;
  /** Distributed mode on this Redis; absent = embedded (in-process queue). */
  redisUrl?: string | undefined;
  /** Worker concurrency. @defaultValue 64 */
  concurrency?: number;
  /** Sessions for the lag measurement. @defaultValue 20 */
  lagSessions?: number;
  /** Idle window for the lag measurement. @defaultValue 0.2 */
  sessionIdleSeconds?: number;
}

export interface EvaluatorBenchResult {
  mode: 'embedded' | 'distributed';
  turns: number;
  /** Signal extraction in the gateway process (handleTurn's CPU part), turns per second. */
  extractTurnsPerSecond: number;
  /** Turn jobs scored per second by one worker process. */
  turnsScoredPerSecondPerWorker: number;
  scoreRows: number;
  /** Session score arrival minus the session's last turn (includes the idle window). */
  sessionLagMillis: { p50: number; p95: number; max: number };
  /** Same, minus the idle window: the evaluator's own delay. */
  sessionLagOverIdleMillis: { p50: number; p95: number; max: number };
}

class CountingSink implements ScoreSink {
  scoreRows = 0;
  sessionScoredAt = new Map<string, number>();
  write(table: string, rows: Record<string, unknown>[]): void {
    if (table !== 'eval_scores') return;
    this.scoreRows += rows.length;
    for (const row of rows) if (row.scorer === 'task_completion') this.sessionScoredAt.set(String(row.session_id), Date.now());
  }
}

function traffic(sessions: number, tag: string): TurnRecord[][] {
  const result: TurnRecord[][] = [];
  for (let index = 0; index < sessions; index += 1) {
    const scenarios = scenarioSessions(`${tag}${index}`);
    const pick = [scenarios.clean, scenarios.failingTests, scenarios.retryCap, scenarios.malformed][index % 4] as TurnRecord[];
    result.push(pick);
  }
  return result;
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis));

function percentiles(values: number[]): { p50: number; p95: number; max: number } {
  const sorted = [...values].sort((left, right) => left - right);
  const at = (share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? 0;
  return { p50: Math.round(at(0.5)), p95: Math.round(at(0.95)), max: Math.round(sorted[sorted.length - 1] ?? 0) };
}

async function waitUntil(condition: () => boolean, timeoutMillis: number): Promise<void> {
  const deadline = Date.now() + timeoutMillis;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('bench timed out');
    await sleep(5);
  }
}

async function cleanRedis(redisUrl: string, prefix: string): Promise<void> {
  const queue = new BullmqJobQueue({ name: EVALUATOR_QUEUE, redisUrl, prefix });
  await queue.obliterate();
  await queue.close();
  const state = new RedisHashStore(redisUrl, `${prefix}:${EVALUATOR_QUEUE}:state:`);
  await state.clear();
  await state.close();
}

/** Throughput: all turns queued first, then one worker process drains them. */
async function measureThroughput(options: Required<Omit<EvaluatorBenchOptions, 'redisUrl'>> & { redisUrl?: string | undefined }) {
  const sessions = traffic(options.sessions, `bench-${randomUUID().slice(0, 6)}-`);
  const turns = sessions.flat();
  const extractStarted = performance.now();
  for (const record of turns) extractTurnSignals(record);
  const extractTurnsPerSecond = turns.length / ((performance.now() - extractStarted) / 1000);

  const sink = new CountingSink();
  const prefix = `gatehouse-bench-${randomUUID().slice(0, 8)}`;
  const redis = options.redisUrl ? { url: options.redisUrl, prefix } : undefined;
  // The session window is long here so only turn jobs run during the measurement.
  const common = { sessionIdleSeconds: 3600, concurrency: options.concurrency, redis };
  let producer: Evaluator | undefined;
  let worker: Evaluator | undefined;
  if (redis) {
    producer = await startEvaluator({ ...common, sink, runWorkers: false });
    for (const record of turns) producer.handleTurn(record);
    await producer.flushEnqueues();
    worker = await startEvaluator({ ...common, sink });
  }
  let started = performance.now();
  if (!redis) {
    // One process holds the in-process queue, so its worker starts while turns are handed over: the
    // clock runs from the first handleTurn and includes extraction (a conservative number).
    worker = await startEvaluator({ ...common, sink });
    producer = worker;
    started = performance.now();
    for (const record of turns) producer.handleTurn(record);
  }
  const running = worker as Evaluator;
  await waitUntil(() => running.metrics().processed >= turns.length, 300_000);
  const seconds = (performance.now() - started) / 1000;
  if (producer !== running) await producer?.close();
  await running.close();
  if (options.redisUrl) await cleanRedis(options.redisUrl, prefix);
  return { turns: turns.length, extractTurnsPerSecond, turnsScoredPerSecondPerWorker: turns.length / seconds, scoreRows: sink.scoreRows };
}

/** Lag: sessions played at Codex pace, each session score timed against its last turn. */
async function measureSessionLag(options: Required<Omit<EvaluatorBenchOptions, 'redisUrl'>> & { redisUrl?: string | undefined }) {
  const sink = new CountingSink();
  const prefix = `gatehouse-bench-${randomUUID().slice(0, 8)}`;
  const evaluator = await startEvaluator({
    sink,
    sessionIdleSeconds: options.sessionIdleSeconds,
    concurrency: options.concurrency,
    redis: options.redisUrl ? { url: options.redisUrl, prefix } : undefined,
  });
  const sessions = traffic(options.lagSessions, `lag-${randomUUID().slice(0, 6)}-`);
  const lastTurnAt = new Map<string, number>();
  await Promise.all(
    sessions.map(async (records, index) => {
      await sleep(index * 10);
      for (const record of records) {
        evaluator.handleTurn(record);
        lastTurnAt.set(record.span.session_id, Date.now());
        await sleep(30);
      }
    }),
  );
  await waitUntil(() => sink.sessionScoredAt.size >= sessions.length, 60_000);
  await evaluator.close();
  if (options.redisUrl) await cleanRedis(options.redisUrl, prefix);
  const lags = [...lastTurnAt].map(([session, at]) => (sink.sessionScoredAt.get(session) ?? at) - at);
  const idleMillis = options.sessionIdleSeconds * 1000;
  return { sessionLagMillis: percentiles(lags), sessionLagOverIdleMillis: percentiles(lags.map((lag) => lag - idleMillis)) };
}

/** Runs the evaluator bench once in the given mode. */
export async function runEvaluatorBench(options: EvaluatorBenchOptions = {}): Promise<EvaluatorBenchResult> {
  const resolved = { sessions: 400, concurrency: 64, lagSessions: 20, sessionIdleSeconds: 0.2, ...options };
  const throughput = await measureThroughput(resolved);
  const lag = await measureSessionLag(resolved);
  return { mode: options.redisUrl ? 'distributed' : 'embedded', ...throughput, ...lag };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const argument = (name: string) => {
    const index = process.argv.indexOf(name);
    return index >= 0 ? process.argv[index + 1] : undefined;
  };
  const sessions = Number(argument('--sessions') ?? 400);
  const embedded = await runEvaluatorBench({ sessions });
  console.log(JSON.stringify(embedded, null, 2));
  const redisUrl = argument('--redis') ?? process.env.REDIS_URL;
  if (redisUrl) console.log(JSON.stringify(await runEvaluatorBench({ sessions, redisUrl }), null, 2));
}
